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
    private Parameter weightParameter, biasParameter;

    public GroupNormF32(long groups, long channels, double eps, Device? device) : base(nameof(GroupNormF32))
    {
        this.groups = groups;
        this.eps = eps;
        weightParameter = new Parameter(ones(channels, dtype: ScalarType.Float32, device: device), requires_grad: false);
        biasParameter = new Parameter(zeros(channels, dtype: ScalarType.Float32, device: device), requires_grad: false);
        register_parameter("weight", weightParameter);
        register_parameter("bias", biasParameter);
    }

    public Parameter weight
    {
        get => weightParameter;
        set { weightParameter = value; ConditionallyRegisterParameter("weight", value); }
    }

    public Parameter bias
    {
        get => biasParameter;
        set { biasParameter = value; ConditionallyRegisterParameter("bias", value); }
    }

    public override Tensor forward(Tensor x)
    {
        if (x.dtype == ScalarType.Float32)
            return nn.functional.group_norm(x, groups, weightParameter, biasParameter, eps);
        using var scope = NewDisposeScope();
        return nn.functional.group_norm(x.to(ScalarType.Float32), groups, weightParameter, biasParameter, eps)
            .to(x.dtype).MoveToOuterDisposeScope();
    }
}

/// <summary>LayerNorm over the last dimension with fp32 statistics and parameters (see <see cref="GroupNormF32"/>).</summary>
internal sealed class LayerNormF32 : nn.Module<Tensor, Tensor>
{
    private readonly long[] shape;
    private readonly double eps;
    private Parameter weightParameter, biasParameter;

    public LayerNormF32(long dim, double eps, Device? device) : base(nameof(LayerNormF32))
    {
        shape = [dim];
        this.eps = eps;
        weightParameter = new Parameter(ones(dim, dtype: ScalarType.Float32, device: device), requires_grad: false);
        biasParameter = new Parameter(zeros(dim, dtype: ScalarType.Float32, device: device), requires_grad: false);
        register_parameter("weight", weightParameter);
        register_parameter("bias", biasParameter);
    }

    public Parameter weight
    {
        get => weightParameter;
        set { weightParameter = value; ConditionallyRegisterParameter("weight", value); }
    }

    public Parameter bias
    {
        get => biasParameter;
        set { biasParameter = value; ConditionallyRegisterParameter("bias", value); }
    }

    public override Tensor forward(Tensor x)
    {
        if (x.dtype == ScalarType.Float32)
            return nn.functional.layer_norm(x, shape, weightParameter, biasParameter, eps);
        using var scope = NewDisposeScope();
        return nn.functional.layer_norm(x.to(ScalarType.Float32), shape, weightParameter, biasParameter, eps)
            .to(x.dtype).MoveToOuterDisposeScope();
    }
}
