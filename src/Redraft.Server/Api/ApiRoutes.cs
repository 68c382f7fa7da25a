using System.Text.Json.Nodes;

namespace Redraft.Server.Api;

/// <summary>A request or response body of a route, for the docs: its schema name and where its schema comes from.</summary>
/// <param name="Name">The schema's name in <c>/openapi.json</c> (A1111's model name where it has one).</param>
/// <param name="Schema">Builds the JSON schema (from the type the server writes, <see cref="ApiJson.Schema"/>).</param>
/// <param name="IsList">The body is a JSON array of this schema.</param>
/// <param name="MediaType">Its content type.</param>
internal sealed record ApiBody(string Name, Func<JsonNode> Schema, bool IsList = false, string MediaType = "application/json")
{
    /// <summary>A body written as <typeparamref name="T"/>.</summary>
    public static ApiBody Of<T>(string name) => new(name, () => ApiJson.Schema(typeof(T)));

    /// <summary>A JSON array of <typeparamref name="T"/>.</summary>
    public static ApiBody ListOf<T>(string name) => new(name, () => ApiJson.Schema(typeof(T)), IsList: true);

    /// <summary>The JSON <c>null</c> A1111 answers where its handler returns nothing.</summary>
    public static ApiBody Null { get; } = new("Null", () => new JsonObject { ["type"] = "null" });
}

/// <summary>A query parameter of a route.</summary>
internal sealed record ApiQuery(string Name, string Type, string Description);

/// <summary>One route of the server, as <c>/openapi.json</c> and <c>/docs</c> describe it.</summary>
internal sealed record ApiRoute(string Method, string Path, string Summary, ApiBody Response, ApiBody? Request = null, IReadOnlyList<ApiQuery>? Query = null);

/// <summary>
/// Every route the server maps, with what it does and the shapes of its bodies: the one source of
/// <c>/openapi.json</c> and <c>/docs</c>. The schemas come from the types the endpoints write (<c>ApiModels.cs</c>,
/// <see cref="OptionsModel"/>, <see cref="CmdFlags"/>) and, for <c>txt2img</c>/<c>img2img</c>, from the request
/// echo's fields (<see cref="GenerationRequestSchema"/>). A route mapped without an entry here fails the
/// server's OpenAPI test.
/// </summary>
internal static class ApiRoutes
{
    private const string V1 = "/sdapi/v1/";
    private const string Docs = "/api/v1/documents";
    private const string Doc = Docs + "/{doc}";

    /// <summary>The multipart fields of <c>POST …/layers</c>.</summary>
    private static JsonNode NewLayerForm() => new JsonObject
    {
        ["type"] = "object",
        ["required"] = new JsonArray("image"),
        ["properties"] = new JsonObject
        {
            ["image"] = new JsonObject { ["type"] = "string", ["format"] = "binary" },
            ["mask"] = new JsonObject { ["type"] = "string", ["format"] = "binary" },
            ["x"] = new JsonObject { ["type"] = "integer" },
            ["y"] = new JsonObject { ["type"] = "integer" },
            ["scale"] = new JsonObject { ["type"] = "number" },
            ["opacity"] = new JsonObject { ["type"] = "number" },
            ["name"] = new JsonObject { ["type"] = "string" },
            ["visible"] = new JsonObject { ["type"] = "boolean" },
            ["operation_id"] = new JsonObject { ["type"] = "string" },
        },
    };

    /// <summary>The multipart fields of <c>POST …/layers/{id}/paint</c>.</summary>
    private static JsonNode PaintForm() => new JsonObject
    {
        ["type"] = "object",
        ["required"] = new JsonArray("patch", "x", "y"),
        ["properties"] = new JsonObject
        {
            ["patch"] = new JsonObject { ["type"] = "string", ["format"] = "binary" },
            ["x"] = new JsonObject { ["type"] = "integer" },
            ["y"] = new JsonObject { ["type"] = "integer" },
            ["base_image"] = new JsonObject { ["type"] = "string" },
            ["operation_id"] = new JsonObject { ["type"] = "string" },
        },
    };

    /// <summary>The multipart fields of <c>POST …/layers/{id}/erase</c>.</summary>
    private static JsonNode EraseForm() => new JsonObject
    {
        ["type"] = "object",
        ["required"] = new JsonArray("mask"),
        ["properties"] = new JsonObject
        {
            ["mask"] = new JsonObject { ["type"] = "string", ["format"] = "binary" },
            ["space"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("canvas", "layer") },
            ["operation_id"] = new JsonObject { ["type"] = "string" },
        },
    };

    public static IReadOnlyList<ApiRoute> All { get; } =
    [
        new("POST", V1 + "txt2img", "Text to image. Waits for the job; answers the images (base64 PNGs with their parameters chunk), the request as understood and the info JSON string.",
            ApiBody.Of<GenerationResponse>("TextToImageResponse"), new ApiBody("StableDiffusionProcessingTxt2Img", () => GenerationRequestSchema.For(img2img: false))),
        new("POST", V1 + "img2img", "Image to image and inpainting (init_images, mask). Answers as txt2img.",
            ApiBody.Of<GenerationResponse>("ImageToImageResponse"), new ApiBody("StableDiffusionProcessingImg2Img", () => GenerationRequestSchema.For(img2img: true))),
        new("GET", V1 + "progress", "The running job: progress 0–1, seconds left, A1111's state, and a TAESD preview (base64 PNG) when one exists.",
            ApiBody.Of<ProgressResponse>("ProgressResponse"), Query: [new("skip_current_image", "boolean", "leave the preview out")]),
        new("POST", V1 + "interrupt", "Stops the running job after its current step; that job answers with the image as far as it got.", ApiBody.Of<EmptyObject>("Empty")),
        new("POST", V1 + "skip", "Ends the running sampling run of a batch and goes on with the next.", ApiBody.Null),
        new("GET", V1 + "options", "The settings clients read; sd_model_checkpoint is the default checkpoint's title.", ApiBody.Of<OptionsModel>("Options")),
        new("POST", V1 + "options", "Posting sd_model_checkpoint (title, file name or hash) loads that checkpoint and makes it the default; other keys are accepted and ignored.",
            ApiBody.Null, ApiBody.Of<OptionsModel>("Options")),
        new("GET", V1 + "cmd-flags", "The A1111 command-line flags that mean something for this server (never the credentials).", ApiBody.Of<CmdFlags>("Flags")),
        new("GET", V1 + "samplers", "Samplers, with the schedule \"Automatic\" gives each.", ApiBody.ListOf<SamplerItem>("SamplerItem")),
        new("GET", V1 + "schedulers", "Schedulers (name or label may be sent as scheduler).", ApiBody.ListOf<SchedulerItem>("SchedulerItem")),
        new("GET", V1 + "upscalers", "Pixel upscalers (none yet).", ApiBody.ListOf<UpscalerItem>("UpscalerItem")),
        new("GET", V1 + "latent-upscale-modes", "Latent upscale modes for hires fix (none yet).", ApiBody.ListOf<LatentUpscalerModeItem>("LatentUpscalerModeItem")),
        new("GET", V1 + "sd-models", "Checkpoints in the models folder, the A1111 folder (--a1111-dir) and the Hugging Face cache; title = name [short sha256] once hashed.", ApiBody.ListOf<SdModelItem>("SDModelItem")),
        new("GET", V1 + "sd-vae", "VAE files in the models folder's VAE/, the A1111 folder's models/VAE and the Hugging Face cache.", ApiBody.ListOf<SdVaeItem>("SDVaeItem")),
        new("GET", V1 + "sd-modules", "Forge's module list: here the VAE files.", ApiBody.ListOf<SdVaeItem>("SDModuleItem")),
        new("GET", V1 + "hypernetworks", "Hypernetworks (none).", ApiBody.ListOf<HypernetworkItem>("HypernetworkItem")),
        new("GET", V1 + "face-restorers", "Face restorers (none).", ApiBody.ListOf<FaceRestorerItem>("FaceRestorerItem")),
        new("GET", V1 + "realesrgan-models", "Real-ESRGAN models (none).", ApiBody.ListOf<RealesrganItem>("RealesrganItem")),
        new("GET", V1 + "prompt-styles", "Prompt styles.", ApiBody.ListOf<PromptStyleItem>("PromptStyleItem")),
        new("GET", V1 + "embeddings", "Textual inversion embeddings (none yet).", ApiBody.Of<EmbeddingsResponse>("EmbeddingsResponse")),
        new("POST", V1 + "refresh-embeddings", "Re-reads the embeddings (lists are read from disk on every call).", ApiBody.Null),
        new("POST", V1 + "refresh-checkpoints", "Forgets hashes of changed files and unloads the cached model if its file was rewritten.", ApiBody.Null),
        new("POST", V1 + "refresh-vae", "Re-reads the VAE list (read from disk on every call).", ApiBody.Null),
        new("GET", V1 + "loras", "LoRAs in the models folder's Lora/ and the A1111 folder's models/Lora, with their safetensors metadata; apply one with <lora:NAME:WEIGHT> in the prompt.", ApiBody.ListOf<LoraItem>("LoraItem")),
        new("POST", V1 + "refresh-loras", "Re-reads the LoRA list (read from disk on every call).", ApiBody.Null),
        new("POST", V1 + "png-info", "The parameters text of a PNG (base64 or data URL in image), its other text chunks, and the parsed fields.",
            ApiBody.Of<PngInfoResponse>("PNGInfoResponse"), ApiBody.Of<PngInfoRequest>("PNGInfoRequest")),
        new("GET", V1 + "memory", "The process's memory (ram); cuda is unavailable on this CPU server.", ApiBody.Of<MemoryResponse>("MemoryResponse")),
        new("POST", V1 + "unload-checkpoint", "Frees the checkpoint in memory after the running job; the next job loads it again.", ApiBody.Of<EmptyObject>("Empty")),
        new("POST", V1 + "reload-checkpoint", "Loads the default checkpoint if it is not in memory.", ApiBody.Of<EmptyObject>("Empty")),
        new("GET", V1 + "scripts", "Script titles per mode (none: Redraft has no A1111 scripts or extensions).", ApiBody.Of<ScriptsList>("ScriptsList")),
        new("GET", V1 + "script-info", "Script arguments (none).", ApiBody.ListOf<ScriptInfo>("ScriptInfo")),
        new("GET", V1 + "extensions", "Installed extensions (none).", ApiBody.ListOf<ExtensionItem>("ExtensionItem")),
        new("POST", "/internal/progress", "A task by the id it was sent with (force_task_id): queued (\"In queue: i/n\"), active with progress and a live preview, or completed.",
            ApiBody.Of<InternalProgressResponse>("InternalProgressResponse"), ApiBody.Of<InternalProgressRequest>("InternalProgressRequest")),
        new("GET", "/internal/pending-tasks", "The ids of the queued tasks, in order.", ApiBody.Of<PendingTasksResponse>("PendingTasksResponse")),
        new("GET", "/api/v1/models", "Redraft's models API: the catalogue's models, each with whether it is installed (downloaded, or found in the Hugging Face cache or the A1111 folder), where, and its size.",
            ApiBody.ListOf<CatalogueModelItem>("CatalogueModelItem")),
        new("POST", "/api/v1/models", "Downloads a catalogue model as a job of the download queue (never the generation queue: generations go on meanwhile): 202 {id, status_url, state}; asking for a model queued or downloading answers that download. A licence that asks must be accepted with accept_licence: true (422 otherwise); an unknown name is 404.",
            ApiBody.Of<ModelDownloadAccepted>("ModelDownloadAccepted"), ApiBody.Of<ModelDownloadRequest>("ModelDownloadRequest")),
        new("GET", "/api/v1/models/downloads/{id}", "A download's progress: state (queued, running, done, failed, cancelled), the file arriving, bytes, total, bytes_per_second, error, the installed path once done.",
            ApiBody.Of<Jobs.ModelDownloadView>("ModelDownloadView")),
        new("DELETE", "/api/v1/models/downloads/{id}", "Cancels a queued download (it never runs) or the running one (its .part file stays, and the next POST of the model resumes it); answers the download as it is then (a running one ends cancelled a moment later); one that has ended stays as it was.",
            ApiBody.Of<Jobs.ModelDownloadView>("ModelDownloadView")),
        new("GET", "/api/v1/jobs", "Redraft's jobs API: the running job and the queue.", ApiBody.Of<JobsResponse>("JobsResponse")),
        new("GET", "/api/v1/workers", "The generation workers of a server started with --broker: each one's checkpoints, device, current job and last heartbeat, and whether the broker is reachable (a server that generates itself: broker null, no workers).",
            ApiBody.Of<WorkersResponse>("WorkersResponse")),
        new("GET", "/api/v1/jobs/{id}", "One job by task id (also recently ended ones).", ApiBody.Of<JobView>("JobView")),
        new("GET", "/api/v1/jobs/{id}/events", "The job's events as Server-Sent Events: snapshot, queued (position), started, phase, progress (step, total, ETA), preview (its URL), then result, error or cancelled; ping every 15 s.",
            new ApiBody("JobEvents", () => new JsonObject { ["type"] = "string" }, MediaType: "text/event-stream")),
        new("GET", "/api/v1/jobs/{id}/preview.png", "The job's latest live preview (404 before the first).",
            new ApiBody("PNG", () => new JsonObject { ["type"] = "string", ["format"] = "binary" }, MediaType: "image/png")),
        new("DELETE", "/api/v1/jobs/{id}", "Cancels a queued or running job (a queued one never runs); its request answers 409 Cancelled.", ApiBody.Of<JobCancelled>("JobCancelled")),
        new("GET", Docs, "Redraft's documents API: the studio documents (folders of the documents dir, the ones redraft doc opens), newest change first.",
            ApiBody.Of<DocumentList>("DocumentList")),
        new("POST", Docs, "Creates a document (201): JSON {name, width, height}, or multipart name + image (+ optional width, height) to start from a sketch (layer L1, fitted and centred); name = its folder name (409 if it exists).",
            ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<NewDocumentRequest>("NewDocumentRequest")),
        new("GET", Doc, "A document: canvas size, state, layers bottom first (as redraft doc layers --json, with each image's size and URL).",
            ApiBody.Of<DocumentView>("DocumentView"), Query: [new("state", "integer", "a past state (read only)")]),
        new("GET", Doc + "/composite.png", "The composite PNG, byte for byte what redraft doc render writes (with its redraft chunk); with hide, the composite without those layers (what the canvas shows under a dragged layer; no chunk).",
            new ApiBody("PNG", () => new JsonObject { ["type"] = "string", ["contentMediaType"] = "image/png" }, MediaType: "image/png"),
            Query: [new("state", "integer", "a past state"), new("transparent", "boolean", "RGBA over transparency instead of RGB over white"), new("hide", "string", "comma-separated layer ids to leave out")]),
        new("GET", Doc + "/thumbnail.png", "A small composite (RGB over white): the longer side = size (default 128, never enlarged), the shape kept.",
            new ApiBody("PNG", () => new JsonObject { ["type"] = "string", ["contentMediaType"] = "image/png" }, MediaType: "image/png"),
            Query: [new("state", "integer", "a past state"), new("size", "integer", "longer side in pixels, 16 to 1024")]),
        new("GET", Doc + "/images/{hash}.png", "A stored layer image or mask by its sha256 (layer image URLs point here).",
            new ApiBody("PNG", () => new JsonObject { ["type"] = "string", ["contentMediaType"] = "image/png" }, MediaType: "image/png")),
        new("GET", Doc + "/history", "Every step of the document, oldest first, with its recorded parameters.", ApiBody.Of<HistoryList>("HistoryList")),
        new("PATCH", Doc + "/layers/{id}", "One change of a layer, one history step: visible, opacity, name, a move (x, y, scale) or index (0 = bottom); 404 for an unknown layer.",
            ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<LayerPatchRequest>("LayerPatchRequest")),
        new("POST", Doc + "/layers", "Adds a top layer: an uploaded image (multipart: image; optional mask = visibility mask of the image's size, white = keep; x, y, scale, opacity, name, visible, operation_id), or with JSON {empty: true, name, operation_id} a transparent canvas-sized layer to paint on.",
            ApiBody.Of<DocumentView>("DocumentView"), new ApiBody("NewLayerForm", NewLayerForm, MediaType: "multipart/form-data")),
        new("POST", Doc + "/layers/{id}/flip", "Mirrors a layer's pixels (horizontal: true = left-right, the default; false = top-bottom).",
            ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<FlipRequest>("FlipRequest")),
        new("POST", Doc + "/layers/{id}/duplicate", "A copy of a layer on top of it.", ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<OperationRequest>("OperationRequest")),
        new("POST", Doc + "/layers/{id}/merge-down", "Merges a layer into the one below it.", ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<OperationRequest>("OperationRequest")),
        new("POST", Doc + "/resize", "Grows or crops the canvas by pixels per side (negative = crop); the layers shift so the picture stays.",
            ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<ResizeRequest>("ResizeRequest")),
        new("DELETE", Doc + "/layers/{id}", "Deletes a layer (kept in the history; undo brings it back).", ApiBody.Of<DocumentView>("DocumentView"),
            Query: [new("operation_id", "string", "the action's id: a retry with it records nothing")]),
        new("POST", Doc + "/candidates/{id}/pick", "Accepts a candidate: the hidden candidate layer becomes a visible generated layer.",
            ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<OperationRequest>("OperationRequest")),
        new("POST", Doc + "/candidates/discard", "Deletes every hidden candidate layer (one step).", ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<OperationRequest>("OperationRequest")),
        new("POST", Doc + "/undo", "Goes back to the state before the current one (recorded as a step).", ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<OperationRequest>("OperationRequest")),
        new("POST", Doc + "/redo", "Re-applies the last undone step.", ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<OperationRequest>("OperationRequest")),
        new("POST", Doc + "/generate", "Image-to-image over the composite (or a region) as a queued job: 202 with the job and its events; the candidates are committed before its result event. Body: prompt, negative_prompt, strength, steps, cfg_scale, sampler_name, scheduler, seed, subseed, subseed_strength, variations, model, region {x, y, width, height}, region_native, mask (base64 PNG, canvas-sized, white = regenerate), mask_blur, inpaint_padding, preview_every, operation_id; the answer's area is the canvas rectangle the generation and its previews cover; a retry while its job waits or runs answers that job.",
            ApiBody.Of<DocumentJobAccepted>("DocumentJobAccepted")),
        new("POST", Doc + "/live", "Live mode: a short image-to-image of the composite (the generate body with 1 to 4 steps, one image, no operation_id) as a doc-live job that records nothing: 202 {job_id, events_url, area}. A document has one live job: a new one cancels the previous (its cancelled event: reason superseded). Live jobs wait ahead of every queued job that is not live and never stop the running one. The result event carries result_url, area (where result.png lies on the canvas) and seeds.",
            ApiBody.Of<LiveJobAccepted>("LiveJobAccepted")),
        new("GET", Doc + "/live/{job}/result.png", "A live job's result as the candidate layer it would become (kept in memory: the latest live result of the document, for 10 minutes); 404 when it is gone.",
            new ApiBody("PNG", () => new JsonObject { ["type"] = "string", ["contentMediaType"] = "image/png" }, MediaType: "image/png")),
        new("POST", Doc + "/live/{job}/apply", "Commits a kept live result as a generate step with one candidate layer on top of the document as it is now (it reruns identically); body {operation_id}; 404 when the result is gone.",
            ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<LiveApplyRequest>("LiveApplyRequest")),
        new("POST", Doc + "/harmonize", "A low-strength pass over the composite (strength 0.3 unless sent) as a queued job; the result becomes the new base layer.",
            ApiBody.Of<DocumentJobAccepted>("DocumentJobAccepted")),
        new("PATCH", Doc, "Renames a document (moves its folder): body {name, operation_id}; 400 for a name that is not one, 409 when it is taken or while a job of the document is queued or running.",
            ApiBody.Of<DocumentView>("DocumentView"), ApiBody.Of<DocumentPatchRequest>("DocumentPatchRequest")),
        new("GET", Doc + "/layers/{id}.png", "A layer's stored image (its own pixels, straight RGBA), now or at a past state.",
            new ApiBody("PNG", () => new JsonObject { ["type"] = "string", ["contentMediaType"] = "image/png" }, MediaType: "image/png"),
            Query: [new("state", "integer", "a past state")]),
        new("POST", Doc + "/layers/{id}/paint", "Replaces a rectangle of a layer's pixels (multipart: patch PNG, x, y in layer pixels, optional base_image = the image hash drawn over (409 when the layer changed since), operation_id).",
            ApiBody.Of<DocumentView>("DocumentView"), new ApiBody("PaintForm", PaintForm, MediaType: "multipart/form-data")),
        new("POST", Doc + "/layers/{id}/erase", "Erases a layer through a mask (multipart: mask PNG, white = erase; space = canvas (default: the mask is the canvas's size) or layer (the mask is the layer image's size); operation_id). Masks are not resized: another size is 422.",
            ApiBody.Of<DocumentView>("DocumentView"), new ApiBody("EraseForm", EraseForm, MediaType: "multipart/form-data")),
        new("GET", Doc + "/history/{step}/infotext", "The A1111 infotext of a generate or harmonize step (its first output's parameters chunk): copy parameters.",
            new ApiBody("Text", () => new JsonObject { ["type"] = "string" }, MediaType: "text/plain")),
        new("POST", Doc + "/history/{step}/rerun", "Reruns a generate or harmonize step as a queued job (doc-rerun; body {threads} optional); its result event says whether each output is byte-identical to the recording. Records nothing.",
            ApiBody.Of<DocumentJobAccepted>("DocumentJobAccepted")),
        new("GET", Doc + "/events", "The document's head as Server-Sent Events: snapshot {state, can_undo, can_redo}, then changed {state, can_undo, can_redo, entry_id, kind} on every commit (also the CLI's), ping every 15 s.",
            new ApiBody("DocumentEvents", () => new JsonObject { ["type"] = "string" }, MediaType: "text/event-stream")),
        new("GET", "/internal/ping", "Health check.", ApiBody.Of<EmptyObject>("Empty")),
        new("POST", "/login", "A1111's Gradio login, answered for clients that call it first; the API's own auth is HTTP Basic (--api-auth).", ApiBody.Of<LoginResponse>("LoginResponse")),
        new("GET", "/openapi.json", "This description of the API (OpenAPI 3.1).", new ApiBody("OpenAPI", () => new JsonObject { ["type"] = "object" })),
        new("GET", "/docs", "The routes and their fields as an HTML page.", new ApiBody("HTML", () => new JsonObject { ["type"] = "string" }, MediaType: "text/html")),
        // The browser page is listed like /docs: every route the server maps is in this table, pages included.
        new("GET", "/", "The canvas: documents with layers, generate and harmonize with live previews, candidates, history.", new ApiBody("HTML", () => new JsonObject { ["type"] = "string" }, MediaType: "text/html")),
        new("GET", "/page/{file}", "The canvas's ES modules and style sheet (embedded in the server; no build step).", new ApiBody("JavaScript or CSS", () => new JsonObject { ["type"] = "string" }, MediaType: "text/javascript")),
    ];
}
