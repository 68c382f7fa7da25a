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

/// <summary>Small factories with the original implementation's defaults (GroupNorm with 32 groups, eps per site).</summary>
internal static class Layers
{
    public static nn.Module<Tensor, Tensor> GroupNorm32(long channels, double eps = 1e-5) =>
        nn.GroupNorm(32, channels, eps);

    public static nn.Module<Tensor, Tensor> Conv3x3(long inChannels, long outChannels, long stride = 1) =>
        nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1);

    public static nn.Module<Tensor, Tensor> Conv1x1(long inChannels, long outChannels) =>
        nn.Conv2d(inChannels, outChannels, 1);
}
