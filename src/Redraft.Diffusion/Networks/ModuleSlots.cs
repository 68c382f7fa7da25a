using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// A container whose children are registered under explicit names ("0", "2", "op" …), so a module tree
/// can mirror the checkpoint's keys exactly, including the gaps where the original
/// <c>nn.Sequential</c> held parameter-free layers (SiLU, Dropout). It is never called itself: the owner
/// keeps typed references and runs them.
/// </summary>
internal sealed class ModuleSlots : nn.Module
{
    public ModuleSlots() : base(nameof(ModuleSlots)) { }

    public T Add<T>(string name, T module) where T : nn.Module
    {
        register_module(name, module);
        return module;
    }
}

/// <summary>
/// The layer factories every network uses, with the original implementation's defaults (GroupNorm with 32 groups,
/// eps per site). Layers are created on <see cref="ConstructionDevice"/>: the meta device while a model is built
/// for loading, so no memory is allocated or randomly initialised for weights a checkpoint replaces at once.
/// </summary>
internal static class Layers
{
    [ThreadStatic] private static Device? constructionDevice;
    [ThreadStatic] private static ScalarType? constructionDType;

    /// <summary>Device new layers are created on (this thread only); null = libtorch's default (CPU).</summary>
    public static Device? ConstructionDevice => constructionDevice;

    /// <summary>
    /// Builds a module with its parameters on the meta device: shapes only, no storage, no initialisation.
    /// Linear and convolution weights get <paramref name="dtype"/> (the compute dtype); norms stay fp32.
    /// </summary>
    public static T OnMeta<T>(Func<T> build, ScalarType dtype = ScalarType.Float32)
    {
        var (previousDevice, previousDType) = (constructionDevice, constructionDType);
        constructionDevice = new Device(DeviceType.META);
        constructionDType = dtype;
        try { return build(); }
        finally { (constructionDevice, constructionDType) = (previousDevice, previousDType); }
    }

    public static nn.Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures, bool hasBias = true) =>
        nn.Linear(inFeatures, outFeatures, hasBias, device: constructionDevice, dtype: constructionDType);

    public static nn.Module<Tensor, Tensor> LayerNorm(long dim) =>
        new LayerNormF32(dim, 1e-5, constructionDevice);

    public static nn.Module<Tensor, Tensor> Embedding(long count, long dim) =>
        nn.Embedding(count, dim, device: constructionDevice, dtype: constructionDType);

    public static GroupNormF32 GroupNorm32(long channels, double eps = 1e-5) =>
        new GroupNormF32(32, channels, eps, constructionDevice);

    public static nn.Module<Tensor, Tensor> Conv2d(long inChannels, long outChannels, long kernel, long stride, long padding, bool hasBias = true) =>
        nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding, bias: hasBias, device: constructionDevice, dtype: constructionDType);

    public static nn.Module<Tensor, Tensor> Conv3x3(long inChannels, long outChannels, long stride = 1, bool hasBias = true) =>
        Conv2d(inChannels, outChannels, 3, stride, 1, hasBias);

    /// <summary>A bare parameter (OpenCLIP's <c>positional_embedding</c>, <c>in_proj_weight</c>), zero-filled off the meta device.</summary>
    public static TorchSharp.Modules.Parameter Parameter(params long[] shape) =>
        new(zeros(shape, device: constructionDevice), requires_grad: false);

    public static nn.Module<Tensor, Tensor> Conv1x1(long inChannels, long outChannels) =>
        Conv2d(inChannels, outChannels, 1, 1, 0);
}
