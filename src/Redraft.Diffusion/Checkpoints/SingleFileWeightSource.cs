using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// A single <c>.safetensors</c> file in the original layout. A standalone VAE file (keys <c>encoder.…</c>,
/// <c>decoder.…</c>) is exposed under <c>first_stage_model.</c> by giving a key prefix.
/// </summary>
internal sealed class SingleFileWeightSource : IWeightSource
{
    private readonly SafetensorsFile file;
    private readonly string keyPrefix;

    public SingleFileWeightSource(SafetensorsFile file, string keyPrefix = "")
    {
        this.file = file;
        this.keyPrefix = keyPrefix;
    }

    public string Origin => file.Path;

    /// <summary>The keys present, as stored (without the exposed prefix).</summary>
    public IEnumerable<string> StoredKeys => file.Tensors.Keys;

    private string? Stored(string key) =>
        key.StartsWith(keyPrefix, StringComparison.Ordinal) ? key[keyPrefix.Length..] : null;

    public long[]? ShapeOf(string key) =>
        Stored(key) is { } s && file.Tensors.TryGetValue(s, out var info) ? info.Shape : null;

    public SafetensorsDType? DTypeOf(string key) =>
        Stored(key) is { } s && file.Tensors.TryGetValue(s, out var info) ? info.DType : null;

    public Tensor Load(string key) =>
        file.Load(Stored(key) ?? throw new CheckpointFormatException($"{file.Path}: missing tensor {key}."));

    public Tensor Load(string key, ScalarType dtype) =>
        file.Load(Stored(key) ?? throw new CheckpointFormatException($"{file.Path}: missing tensor {key}."), dtype);

    public void Dispose() => file.Dispose();
}
