using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>Self- or cross-attention (<c>attn1</c>/<c>attn2</c>): bias-free q/k/v projections, <c>to_out.0</c> with bias.</summary>
internal sealed class CrossAttention : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> toQ, toK, toV, toOut;
    private readonly int heads;

    public CrossAttention(long queryDim, long contextDim, int heads, long headDim) : base(nameof(CrossAttention))
    {
        this.heads = heads;
        long inner = heads * headDim;
        toQ = Layers.Linear(queryDim, inner, hasBias: false);
        toK = Layers.Linear(contextDim, inner, hasBias: false);
        toV = Layers.Linear(contextDim, inner, hasBias: false);
        register_module("to_q", toQ);
        register_module("to_k", toK);
        register_module("to_v", toV);
        var outSlots = new ModuleSlots();
        toOut = outSlots.Add("0", Layers.Linear(inner, queryDim));
        register_module("to_out", outSlots);
    }

    public Tensor Forward(Tensor x, Tensor? context)
    {
        using var scope = NewDisposeScope();
        var ctx = context ?? x;
        var o = Attention.MultiHead(toQ.call(x), toK.call(ctx), toV.call(ctx), heads);
        return toOut.call(o).MoveToOuterDisposeScope();
    }
}

/// <summary>GEGLU feed-forward: <c>net.0.proj</c> (dim → 2·inner, half gates the other through exact GELU), <c>net.2</c> (inner → dim).</summary>
internal sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> proj, output;

    public FeedForward(long dim, long mult = 4) : base(nameof(FeedForward))
    {
        long inner = dim * mult;
        var net = new ModuleSlots();
        var geglu = new ModuleSlots();
        proj = geglu.Add("proj", Layers.Linear(dim, inner * 2));
        net.Add("0", geglu);
        output = net.Add("2", Layers.Linear(inner, dim));
        register_module("net", net);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var projected = proj.call(x);
        if (FusedGeglu.Handles(projected)) return output.call(FusedGeglu.Forward(projected)).MoveToOuterDisposeScope();
        var parts = projected.chunk(2, dim: -1);
        return output.call(parts[0] * nn.functional.gelu(parts[1])).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm transformer block: self-attention, cross-attention on the text context, GEGLU feed-forward.</summary>
internal sealed class BasicTransformerBlock : nn.Module
{
    private readonly CrossAttention attn1, attn2;
    private readonly FeedForward ff;
    private readonly nn.Module<Tensor, Tensor> norm1, norm2, norm3;

    public BasicTransformerBlock(long dim, int heads, long headDim, long contextDim) : base(nameof(BasicTransformerBlock))
    {
        attn1 = new CrossAttention(dim, dim, heads, headDim);
        ff = new FeedForward(dim);
        attn2 = new CrossAttention(dim, contextDim, heads, headDim);
        norm1 = Layers.LayerNorm(dim);
        norm2 = Layers.LayerNorm(dim);
        norm3 = Layers.LayerNorm(dim);
        register_module("attn1", attn1);
        register_module("ff", ff);
        register_module("attn2", attn2);
        register_module("norm1", norm1);
        register_module("norm2", norm2);
        register_module("norm3", norm3);
    }

    public Tensor Forward(Tensor x, Tensor context)
    {
        using var scope = NewDisposeScope();
        x = attn1.Forward(norm1.call(x), null) + x;
        x = attn2.Forward(norm2.call(x), context) + x;
        x = ff.call(norm3.call(x)) + x;
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The UNet's attention stage: GroupNorm, project in (1×1 conv in SD 1.x, Linear in SD 2.x), transformer blocks
/// over the flattened spatial tokens, project out, add the input.
/// </summary>
internal sealed class SpatialTransformer : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> norm, projIn, projOut;
    private readonly BasicTransformerBlock[] blocks;
    private readonly bool linearProjection;

    public SpatialTransformer(long channels, int heads, long headDim, int depth, long contextDim, bool linearProjection)
        : base(nameof(SpatialTransformer))
    {
        this.linearProjection = linearProjection;
        long inner = heads * headDim;
        norm = Layers.GroupNorm32(channels, 1e-6);
        projIn = linearProjection ? Layers.Linear(channels, inner) : Layers.Conv1x1(channels, inner);
        var list = new ModuleSlots();
        blocks = new BasicTransformerBlock[depth];
        for (int i = 0; i < depth; i++)
            blocks[i] = list.Add(i.ToString(), new BasicTransformerBlock(inner, heads, headDim, contextDim));
        projOut = linearProjection ? Layers.Linear(inner, channels) : Layers.Conv1x1(inner, channels);
        register_module("norm", norm);
        register_module("proj_in", projIn);
        register_module("transformer_blocks", list);
        register_module("proj_out", projOut);
    }

    public Tensor Forward(Tensor x, Tensor context)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var tokens = norm.call(x);
        if (linearProjection)
            tokens = projIn.call(tokens.permute(0, 2, 3, 1).reshape(b, h * w, c));
        else
        {
            tokens = projIn.call(tokens);
            tokens = tokens.permute(0, 2, 3, 1).reshape(b, h * w, tokens.shape[1]);
        }
        foreach (var block in blocks)
            tokens = block.Forward(tokens, context);
        Tensor result;
        if (linearProjection)
            result = projOut.call(tokens).reshape(b, h, w, c).permute(0, 3, 1, 2);
        else
            result = projOut.call(tokens.reshape(b, h, w, tokens.shape[2]).permute(0, 3, 1, 2));
        return (result + x).MoveToOuterDisposeScope();
    }
}
