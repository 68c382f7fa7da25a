using System.Text.Json.Nodes;

namespace Redraft.Server.Api;

// The documents API's response models (/api/v1/documents), written through ApiJson (snake_case). The layer fields are
// those of `redraft doc layers --json`, so one shape serves the CLI and the API.

/// <summary>A document in the list: <c>name</c> = its folder name (its name in every route), <c>document_id</c> = the id in its history, <c>modified</c> = when its last step was recorded.</summary>
internal sealed record DocumentSummary(string Name, string DocumentId, int Width, int Height, long State, DateTimeOffset Modified, string Url);

/// <summary>The list of documents, newest change first.</summary>
internal sealed record DocumentList(IReadOnlyList<DocumentSummary> Documents);

/// <summary>Which step made a generated layer, and its seed.</summary>
internal sealed record LayerGenerationView(long Step, long Seed);

/// <summary>
/// A layer as <c>redraft doc layers --json</c> lists it (index 0 = bottom; role <c>user</c>, <c>candidate</c> or
/// <c>generated</c>; <c>visible</c> = the user's switch, <c>hidden</c> = hidden by the studio, <c>drawn</c> = in the
/// composite), plus its image's size in its own pixels (on the canvas: times <c>scale</c>) and URL.
/// </summary>
internal sealed record LayerView(string Id, int Index, string Name, string Role, bool Visible, bool Hidden, bool Drawn, int X, int Y, double Scale,
    double Opacity, string Image, string? Mask, LayerGenerationView? Generation, int Width, int Height, string Url);

/// <summary>One step of a document's history (<c>redraft doc history</c>): id 1 = the creation; <c>state_after</c> = the state it produced (for <c>undo</c>, the earlier state it went back to).</summary>
internal sealed record HistoryView(long Id, DateTimeOffset Time, string Kind, string? Prompt, long? Seed, double? Strength, string? Sampler, string? ModelHash,
    double DurationS, JsonObject Parameters, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, long? StateBefore, long StateAfter);

/// <summary>The steps of a document, oldest first.</summary>
internal sealed record HistoryList(IReadOnlyList<HistoryView> Steps);

/// <summary>
/// A document as it is (or was, at a past <c>?state=</c>): canvas, state shown, layers bottom first, and <c>entry</c>:
/// the step an edit recorded (on a retry with the same operation id, the first commit's step), null for a read.
/// <c>can_undo</c> and <c>can_redo</c> say whether an undo or a redo of the document's head would do something now
/// (also on a past-state view: they are the document's, not the shown state's).
/// </summary>
internal sealed record DocumentView(string Name, string DocumentId, int Width, int Height, long State, bool CanUndo, bool CanRedo,
    IReadOnlyList<LayerView> Layers, string CompositeUrl, HistoryView? Entry);

/// <summary>Body of <c>POST /api/v1/documents</c>.</summary>
internal sealed record NewDocumentRequest(string Name, int? Width, int? Height);

/// <summary>
/// Body of <c>PATCH …/layers/{id}</c>: ONE change per call (one history step per user action): <c>visible</c>, or
/// <c>opacity</c>, or <c>name</c>, or a move (<c>x</c>, <c>y</c>, <c>scale</c>, any of them), or <c>index</c> (0 = bottom).
/// </summary>
internal sealed record LayerPatchRequest(bool? Visible, double? Opacity, string? Name, int? X, int? Y, double? Scale, int? Index, string? OperationId);

/// <summary>Body of the edits without other fields (pick, discard, undo, redo): the operation id of the user's action (1–128 printable characters; a retry with the same id returns the first commit and records nothing).</summary>
internal sealed record OperationRequest(string? OperationId);

/// <summary>Body of <c>…/layers/{id}/flip</c>: <c>horizontal</c> (default true) mirrors left-right, false top-bottom.</summary>
internal sealed record FlipRequest(bool? Horizontal, string? OperationId);

/// <summary>Body of <c>…/resize</c>: pixels added on each side (negative = cropped); the layers shift so the picture stays.</summary>
internal sealed record ResizeRequest(int? Left, int? Top, int? Right, int? Bottom, string? OperationId);

/// <summary>Body of <c>PATCH /api/v1/documents/{doc}</c>: the new name (a folder name, as when creating) and the action's operation id.</summary>
internal sealed record DocumentPatchRequest(string? Name, string? OperationId);

/// <summary>JSON body of <c>POST …/layers</c> for an empty layer: <c>empty</c> = true, an optional name (default <c>layer</c>) and the action's operation id.</summary>
internal sealed record EmptyLayerRequest(bool? Empty, string? Name, string? OperationId);
