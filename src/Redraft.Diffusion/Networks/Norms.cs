using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// GroupNorm whose statistics and affine parameters are always fp32, whatever the activations' dtype: the reference
/// runs normalisations in fp32 under mixed precision (autocast), and bf16 means/variances visibly shift colours.
/// Parameters keep the checkpoint names <c>weight</c> and <c>bias</c>.
/// </summary>
internal sealed class GroupNormF32 : nn.Module<Tensor, Tensor>
{
    private readonly long groups;
    private readonly double eps;

    public GroupNormF32(long groups, long channels, double eps, Device? device) : base(nameof(GroupNormF32))
    {
        this.groups = groups;
        this.eps = eps;
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

    public override Tensor forward(Tensor x)
    {
        if (x.dtype == ScalarType.Float32)
            return nn.functional.group_norm(x, groups, weight, bias, eps);
        using var scope = NewDisposeScope();
        return nn.functional.group_norm(x.to(ScalarType.Float32), groups, weight, bias, eps)
            .to(x.dtype).MoveToOuterDisposeScope();
    }
}

/// <summary>LayerNorm over the last dimension with fp32 statistics and parameters (see <see cref="GroupNormF32"/>).</summary>
internal sealed class LayerNormF32 : nn.Module<Tensor, Tensor>
{
    private readonly long[] shape;
    private readonly double eps;

    public LayerNormF32(long dim, double eps, Device? device) : base(nameof(LayerNormF32))
    {
        shape = [dim];
        this.eps = eps;
        register_parameter("weight", new Parameter(ones(dim, dtype: ScalarType.Float32, device: device), requires_grad: false));
        register_parameter("bias", new Parameter(zeros(dim, dtype: ScalarType.Float32, device: device), requires_grad: false));
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

    public override Tensor forward(Tensor x)
    {
        if (x.dtype == ScalarType.Float32)
            return nn.functional.layer_norm(x, shape, weight, bias, eps);
        using var scope = NewDisposeScope();
        return nn.functional.layer_norm(x.to(ScalarType.Float32), shape, weight, bias, eps)
            .to(x.dtype).MoveToOuterDisposeScope();
    }
}
