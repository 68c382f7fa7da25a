using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// A diffusers model folder (<c>unet/</c>, <c>vae/</c>, <c>text_encoder/</c>), presented under LDM keys through
/// <see cref="DiffusersKeyMap"/>. VAE attention projections are reshaped between Linear and 1×1-conv form.
/// </summary>
internal sealed class DiffusersWeightSource : IWeightSource
{
    internal const string UNetPrefix = "model.diffusion_model.";
    internal const string VaePrefix = "first_stage_model.";
    internal const string TextPrefix = "cond_stage_model.transformer.";

    private readonly SafetensorsFile unet, vae, text;
    private readonly int unetResBlocks, vaeLevels;

    public string Origin { get; }

    public DiffusersWeightSource(string folder, SafetensorsFile unet, SafetensorsFile vae, SafetensorsFile text, int unetResBlocks, int vaeLevels)
    {
        Origin = folder;
        this.unet = unet;
        this.vae = vae;
        this.text = text;
        this.unetResBlocks = unetResBlocks;
        this.vaeLevels = vaeLevels;
    }

    private (SafetensorsFile File, string Key)? Resolve(string key)
    {
        try
        {
            if (key.StartsWith(UNetPrefix)) return (unet, DiffusersKeyMap.UNetToDiffusers(key[UNetPrefix.Length..], unetResBlocks));
            if (key.StartsWith(VaePrefix)) return (vae, DiffusersKeyMap.VaeToDiffusers(key[VaePrefix.Length..], vaeLevels));
            if (key.StartsWith(TextPrefix)) return (text, key[TextPrefix.Length..]);
        }
        catch (InvalidOperationException)
        {
        }
        return null;
    }

    public long[]? ShapeOf(string key)
    {
        if (Resolve(key) is not { } r || !r.File.Tensors.TryGetValue(r.Key, out var info)) return null;
        var shape = info.Shape;
        if (key.StartsWith(VaePrefix) && DiffusersKeyMap.IsVaeAttentionProjection(key[VaePrefix.Length..]) && shape.Length == 2)
            return [shape[0], shape[1], 1, 1];
        return shape;
    }

    public SafetensorsDType? DTypeOf(string key) =>
        Resolve(key) is { } r && r.File.Tensors.TryGetValue(r.Key, out var info) ? info.DType : null;

    public Tensor Load(string key) => Load(key, null);

    public Tensor Load(string key, ScalarType dtype) => Load(key, (ScalarType?)dtype);

    private Tensor Load(string key, ScalarType? dtype)
    {
        if (Resolve(key) is not { } r || !r.File.Tensors.ContainsKey(r.Key))
            throw new CheckpointFormatException($"{Origin}: missing tensor {key}.");
        var t = dtype is { } d ? r.File.Load(r.Key, d) : r.File.Load(r.Key);
        if (key.StartsWith(VaePrefix) && DiffusersKeyMap.IsVaeAttentionProjection(key[VaePrefix.Length..]) && t.dim() == 2)
        {
            var reshaped = t.reshape(t.shape[0], t.shape[1], 1, 1);
            t.Dispose();
            return reshaped;
        }
        return t;
    }

    public void Dispose()
    {
        unet.Dispose();
        vae.Dispose();
        text.Dispose();
    }
}
