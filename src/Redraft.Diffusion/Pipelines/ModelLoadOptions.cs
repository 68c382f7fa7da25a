namespace Redraft.Diffusion.Pipelines;

/// <summary>Where a model's files are and how to run it.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>A single-file <c>.safetensors</c> checkpoint (original layout) or a diffusers folder.</summary>
    public required string ModelPath { get; init; }
    /// <summary>An original-format YAML config; defaults to <c>&lt;model&gt;.yaml</c> beside the file, else shape detection.</summary>
    public string? ConfigPath { get; init; }
    /// <summary>
    /// A standalone VAE <c>.safetensors</c> replacing the checkpoint's own, or <c>"taesd"</c> to encode and decode
    /// with the tiny autoencoder (drafts: ~20× cheaper, slightly softer).
    /// </summary>
    public string? VaePath { get; init; }
    /// <summary>Also load TAESD for live previews (it is loaded anyway with <c>VaePath = "taesd"</c>).</summary>
    public bool LoadPreviewDecoder { get; init; }
    /// <summary>Folder with <c>taesd_encoder.safetensors</c> and <c>taesd_decoder.safetensors</c>; searched for when null.</summary>
    public string? TaesdFolder { get; init; }
    /// <summary>Folder with the CLIP <c>vocab.json</c> and <c>merges.txt</c>; searched for when null.</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>
    /// UNet compute precision: "fp32" (the reference math), "bf16" (about twice as fast on CPUs with AVX512-BF16;
    /// norms and softmax stay fp32), or "auto" (bf16 where the CPU has AVX512-BF16, else fp32). Text encoder and VAE
    /// run in fp32.
    /// </summary>
    public string DType { get; init; } = "fp32";
    /// <summary>
    /// VAE compute precision: "fp32" (default: the reference math, and what recorded generations were made with),
    /// "bf16" (the VAE's convolutions about twice as fast on CPUs with AVX512-BF16; norms and the attention core stay
    /// fp32; on the tiny random-weight test model images differ from fp32 by 0.5 (txt2img) to 1.1 (img2img) levels
    /// in 255 on average), or "auto" (bf16 where the CPU has
    /// AVX512-BF16). Inputs and outputs stay fp32.
    /// </summary>
    public string VaeDType { get; init; } = "fp32";
    /// <summary>
    /// Load the text encoder, UNet and VAE only when a generation needs them and free each after its part
    /// (<c>--low-memory</c>): lower peak memory, slower repeated generations. Weight errors then surface at first use.
    /// </summary>
    public bool LowMemory { get; init; }
    /// <summary>"cpu" or "cuda" (needs a CUDA build of libtorch).</summary>
    public string Device { get; init; } = "cpu";
}
