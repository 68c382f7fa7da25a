using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// A normalisation whose statistics and affine parameters are always fp32, whatever the activations' dtype: the
/// reference runs normalisations in fp32 under mixed precision (autocast), and bf16 means/variances visibly shift
/// colours. bf16 activations that a native kernel takes (<see cref="FusedGroupNorm"/>, <see cref="FusedLayerNorm"/>)
/// are normalised there, in fp32 arithmetic without an fp32 copy. Parameters keep the checkpoint names
/// <c>weight</c> and <c>bias</c>.
/// </summary>
internal abstract class Fp32Norm : nn.Module<Tensor, Tensor>
{
    protected Fp32Norm(string name, long channels, Device? device) : base(name)
    {
        // No Parameter-typed fields: TorchSharp would register them a second time under the field's name.
        register_parameter("weight", new Parameter(ones(channels, dtype: ScalarType.Float32, device: device), requires_grad: false));
        register_parameter("bias", new Parameter(zeros(channels, dtype: ScalarType.Float32, device: device), requires_grad: false));
    }

    public Parameter weight
    {
        get => get_parameter("weight")!;
        set => ConditionallyRegisterParameter("weight", value);
    }

    public Parameter bias
    {
        get => get_parameter("bias")!;
        set => ConditionallyRegisterParameter("bias", value);
    }

    /// <summary>The normalisation itself, on fp32 input.</summary>
    protected abstract Tensor Normalize(Tensor x);

    /// <summary>The native bf16 kernel's result (fp32 arithmetic inside, one rounding), or null when it does not take <paramref name="x"/>.</summary>
    protected virtual Tensor? TryNative(Tensor x) => null;

    public override Tensor forward(Tensor x) => TryNative(x) ?? ThroughLibtorch(x);

    /// <summary>The normalisation through libtorch: fp32 throughout, converted back to the input's dtype.</summary>
    private Tensor ThroughLibtorch(Tensor x)
    {
        if (x.dtype == ScalarType.Float32) return Normalize(x);
        using var scope = NewDisposeScope();
        return Normalize(x.to(ScalarType.Float32)).to(x.dtype).MoveToOuterDisposeScope();
    }
}

/// <summary>GroupNorm with fp32 statistics (see <see cref="Fp32Norm"/>).</summary>
internal sealed class GroupNormF32(long groups, long channels, double eps, Device? device)
    : Fp32Norm(nameof(GroupNormF32), channels, device)
{
    protected override Tensor Normalize(Tensor x) => nn.functional.group_norm(x, groups, weight, bias, eps);

    protected override Tensor? TryNative(Tensor x) =>
        FusedGroupNorm.Handles(x, groups) ? FusedGroupNorm.Forward(x, groups, weight, bias, eps, silu: false) : null;

    /// <summary>
    /// SiLU(GroupNorm(x)), the ResBlocks' pattern: one native pass for channels-last bf16 activations (normalised
    /// and activated in fp32, rounded once, as the reference's autocast does), else the two operations.
    /// </summary>
    public Tensor ForwardThenSilu(Tensor x)
    {
        if (FusedGroupNorm.Handles(x, groups)) return FusedGroupNorm.Forward(x, groups, weight, bias, eps, silu: true);
        using var normalized = forward(x);
        return nn.functional.silu(normalized);
    }
}

/// <summary>LayerNorm over the last dimension with fp32 statistics (see <see cref="Fp32Norm"/>).</summary>
internal sealed class LayerNormF32(long dim, double eps, Device? device)
    : Fp32Norm(nameof(LayerNormF32), dim, device)
{
    private readonly long[] shape = [dim];

    protected override Tensor Normalize(Tensor x) => nn.functional.layer_norm(x, shape, weight, bias, eps);

    protected override Tensor? TryNative(Tensor x) =>
        FusedLayerNorm.Handles(x) ? FusedLayerNorm.Forward(x, weight, bias, eps) : null;
}
