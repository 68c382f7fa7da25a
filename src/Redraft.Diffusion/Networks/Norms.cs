using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// A normalisation whose statistics and affine parameters are always fp32, whatever the activations' dtype: the
/// reference runs normalisations in fp32 under mixed precision (autocast), and bf16 means/variances visibly shift
/// colours. Parameters keep the checkpoint names <c>weight</c> and <c>bias</c>.
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

    public override Tensor forward(Tensor x)
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
}

/// <summary>LayerNorm over the last dimension with fp32 statistics (see <see cref="Fp32Norm"/>).</summary>
internal sealed class LayerNormF32(long dim, double eps, Device? device)
    : Fp32Norm(nameof(LayerNormF32), dim, device)
{
    private readonly long[] shape = [dim];

    protected override Tensor Normalize(Tensor x) => nn.functional.layer_norm(x, shape, weight, bias, eps);
}
