using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Redraft.Server.Api;

// AUTOMATIC1111 v1.10's response models (its modules/api/models.py, plus the shapes of the routes that have none),
// as the server writes them. Property names become A1111's snake_case through ApiJson.Options; a nullable property
// may answer null, as the A1111 field may. The same types give the OpenAPI schemas (OpenApiDocument), so what the
// docs say is what the server writes. tests/Redraft.Server.Tests/Fixtures/a1111-api.json is A1111's side; the
// contract test compares the server's answers with it.

/// <summary>A checkpoint (<c>sd-models</c>); <c>hash</c>/<c>sha256</c> are null until the file was hashed.</summary>
internal sealed record SdModelItem(string Title, string ModelName, string? Hash, string? Sha256, string Filename, string? Config);

/// <summary>A VAE file (<c>sd-vae</c>; Forge's <c>sd-modules</c> has the same shape).</summary>
internal sealed record SdVaeItem(string ModelName, string Filename);

/// <summary>A sampler (<c>samplers</c>); <c>options.scheduler</c> is the schedule "Automatic" gives it.</summary>
internal sealed record SamplerItem(string Name, IReadOnlyList<string> Aliases, IReadOnlyDictionary<string, string> Options);

/// <summary>A scheduler (<c>schedulers</c>).</summary>
internal sealed record SchedulerItem(string Name, string Label, IReadOnlyList<string>? Aliases, double? DefaultRho, bool? NeedInnerModel);

/// <summary>A LoRA (<c>loras</c>; A1111's Lora extension answers it without a response model).</summary>
/// <param name="Name">The file name without extension: what <c>&lt;lora:NAME:WEIGHT&gt;</c> names.</param>
/// <param name="Alias">The trainer's <c>ss_output_name</c>, else the name.</param>
/// <param name="Path">The file.</param>
/// <param name="Metadata">The file's safetensors <c>__metadata__</c>, values that hold JSON objects parsed.</param>
internal sealed record LoraItem(string Name, string Alias, string Path, JsonObject Metadata);

/// <summary>A pixel upscaler (<c>upscalers</c>; none yet).</summary>
internal sealed record UpscalerItem(string Name, string? ModelName, string? ModelPath, string? ModelUrl, double? Scale);

/// <summary>A latent upscale mode (<c>latent-upscale-modes</c>; none yet).</summary>
internal sealed record LatentUpscalerModeItem(string Name);

/// <summary>A hypernetwork (<c>hypernetworks</c>; none).</summary>
internal sealed record HypernetworkItem(string Name, string? Path);

/// <summary>A face restorer (<c>face-restorers</c>; none).</summary>
internal sealed record FaceRestorerItem(string Name, string? CmdDir);

/// <summary>A Real-ESRGAN model (<c>realesrgan-models</c>; none).</summary>
internal sealed record RealesrganItem(string Name, string? Path, int? Scale);

/// <summary>A prompt style (<c>prompt-styles</c>).</summary>
internal sealed record PromptStyleItem(string Name, string? Prompt, string? NegativePrompt);

/// <summary>A textual inversion embedding (<c>embeddings</c>; none yet).</summary>
internal sealed record EmbeddingItem(int? Step, string? SdCheckpoint, string? SdCheckpointName, int Shape, int Vectors);

/// <summary><c>embeddings</c>: those usable with the loaded model and those skipped.</summary>
internal sealed record EmbeddingsResponse(IReadOnlyDictionary<string, EmbeddingItem> Loaded, IReadOnlyDictionary<string, EmbeddingItem> Skipped);

/// <summary><c>scripts</c>: the script titles each mode offers (none: clients probe it for extensions Redraft lacks).</summary>
internal sealed record ScriptsList(IReadOnlyList<string>? Txt2img, IReadOnlyList<string>? Img2img);

/// <summary>One argument of a script (<c>script-info</c>).</summary>
internal sealed record ScriptArg(string? Label, JsonNode? Value, JsonNode? Minimum, JsonNode? Maximum, JsonNode? Step, IReadOnlyList<string>? Choices);

/// <summary>A script and its arguments (<c>script-info</c>; none).</summary>
internal sealed record ScriptInfo(string? Name, bool? IsAlwayson, bool? IsImg2img, IReadOnlyList<ScriptArg> Args);

/// <summary>An installed extension (<c>extensions</c>; none).</summary>
internal sealed record ExtensionItem(string Name, string Remote, string Branch, string CommitHash, string Version, string CommitDate, bool Enabled);

/// <summary><c>png-info</c>: the <c>parameters</c> text, the image's other text chunks, and the parsed fields.</summary>
internal sealed record PngInfoResponse(string Info, JsonObject Items, JsonObject Parameters);

/// <summary><c>png-info</c>'s request: a PNG as base64 or a data URL.</summary>
internal sealed record PngInfoRequest(string Image);

/// <summary>A1111's error body (any 4xx/5xx except FastAPI's 422 field list): exception name, message, and details.</summary>
internal sealed record ApiError(string Error, string Detail, string Body, string Errors);

/// <summary>Process memory in bytes (<c>memory.ram</c>).</summary>
internal sealed record MemoryRam(double Free, double Used, double Total);

/// <summary>A memory section that could not be measured (<c>memory.cuda</c> without CUDA: "unavailable").</summary>
internal sealed record MemoryError(string Error);

/// <summary><c>memory</c>: RAM, and CUDA (never used by this CPU server).</summary>
internal sealed record MemoryResponse(MemoryRam Ram, MemoryError Cuda);

/// <summary>
/// <c>txt2img</c>/<c>img2img</c>'s answer. Written by <c>GenerationEndpoints</c>; this type describes it for the docs.
/// </summary>
/// <param name="Images">Base64 PNGs with their <c>parameters</c> chunk (empty when <c>send_images</c> is false).</param>
/// <param name="Parameters">The request as understood, every field of the request model.</param>
/// <param name="Info">A JSON string: A1111's <c>Processed.js()</c> keys (seeds, prompts, infotexts, …).</param>
internal sealed record GenerationResponse(IReadOnlyList<string>? Images, JsonObject Parameters, string Info);

/// <summary>A1111's <c>state</c> in <c>progress</c>. Written by <c>ProgressEndpoints</c>; described here for the docs.</summary>
internal sealed record ProgressState(bool Skipped, bool Interrupted, bool StoppingGeneration, string Job, int JobCount,
    string JobTimestamp, int JobNo, int SamplingStep, int SamplingSteps);

/// <summary><c>progress</c>'s answer. Written by <c>ProgressEndpoints</c>; described here for the docs.</summary>
internal sealed record ProgressResponse(double Progress, double EtaRelative, ProgressState State, string? CurrentImage,
    [property: JsonPropertyName("textinfo")] string? TextInfo);

/// <summary>An empty JSON object, what <c>interrupt</c>, <c>unload-checkpoint</c>, <c>reload-checkpoint</c> and <c>/internal/ping</c> answer.</summary>
internal sealed record EmptyObject;

/// <summary>What <c>POST /login</c> answers (A1111's Gradio login; the API has its own auth).</summary>
internal sealed record LoginResponse(bool Success);
