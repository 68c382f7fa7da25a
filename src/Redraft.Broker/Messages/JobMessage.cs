using Redraft.Studio.Generation;

namespace Redraft.Broker.Messages;

/// <summary>
/// Everything a worker needs to run one job, and nothing it must look up on the server: the resolved settings (seeds
/// drawn, precision, kernels and threads fixed, so every worker makes the same bytes), the model files by content, and
/// the input pixels as PNG. The settings' paths are the server's; a worker replaces them with its own copies of the
/// same files (<see cref="Model"/>, <see cref="Vae"/>, <see cref="Loras"/>) and its own tokenizer and TAESD folders.
/// </summary>
/// <param name="Job">
/// This submission's id on the wire, unique for ever (results, events and control name it), so a client that reuses
/// a task id never gets an older job's result, events or cancel.
/// </param>
/// <param name="TaskId">The task id clients know the job by (A1111's <c>id_task</c>), for logs and the fleet's view.</param>
/// <param name="Kind"><c>txt2img</c>, <c>img2img</c>, <c>doc-generate</c>, …</param>
/// <param name="Settings">The resolved settings.</param>
/// <param name="Model">The checkpoint.</param>
/// <param name="Config">Its original-format YAML config (named, or beside it on the server), or null: the config decides the architecture, so a worker uses the same one.</param>
/// <param name="Vae">A standalone VAE file, or null (none, or TAESD: the settings say which).</param>
/// <param name="Loras">The LoRAs, in the settings' order.</param>
/// <param name="InitPng">The init image, or null.</param>
/// <param name="MaskPng">The operation mask as 8-bit grey, or null.</param>
/// <param name="Client">Who asked (for logs).</param>
public sealed record JobMessage(string Job, string TaskId, string Kind, GenerationSettings Settings, ModelReference Model, ModelReference? Config, ModelReference? Vae,
    IReadOnlyList<LoraReference> Loras, byte[]? InitPng, byte[]? MaskPng, string Client)
{
    /// <summary>The message's <c>type</c> property.</summary>
    public const string Type = "redraft.job.v1";
}
