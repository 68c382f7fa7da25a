using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// <c>nn.MultiheadAttention</c> as OpenCLIP stores it: one fused <c>in_proj_weight</c> (3·width, width) holding the
/// query, key and value projections in that order, <c>in_proj_bias</c>, and <c>out_proj</c>. Causal.
/// </summary>
internal sealed class OpenClipAttention : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> outProj;
    private readonly int heads;

    public OpenClipAttention(int width, int heads) : base(nameof(OpenClipAttention))
    {
        this.heads = heads;
        register_parameter(nameof(in_proj_weight), Layers.Parameter(3 * width, width));
        register_parameter(nameof(in_proj_bias), Layers.Parameter(3 * width));
        outProj = Layers.Linear(width, width);
        register_module("out_proj", outProj);
    }

    // Named as the checkpoint keys: WeightLoader (and Module.to) replace a parameter through the settable property
    // of that name. No backing fields: TorchSharp registers Parameter-typed fields under the field's name, which
    // would leave a stale second entry once the parameter is replaced.
#pragma warning disable IDE1006
    public Parameter in_proj_weight
    {
        get => get_parameter(nameof(in_proj_weight))!;
        set => ConditionallyRegisterParameter(nameof(in_proj_weight), value);
    }

    public Parameter in_proj_bias
    {
        get => get_parameter(nameof(in_proj_bias))!;
        set => ConditionallyRegisterParameter(nameof(in_proj_bias), value);
    }
#pragma warning restore IDE1006

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long c = x.shape[2];
        // Three projections with row slices of the fused weight: the same arithmetic as separate q/k/v Linear
        // layers, so this tower and its Hugging Face conversion give identical numbers.
        var w = in_proj_weight;
        var b = in_proj_bias;
        Tensor Project(int i) => nn.functional.linear(x, w.narrow(0, i * c, c), b.narrow(0, i * c, c));
        var o = Attention.MultiHead(Project(0), Project(1), Project(2), heads, causal: true);
        return outProj.call(o).MoveToOuterDisposeScope();
    }
}

/// <summary>One OpenCLIP residual block: <c>ln_1</c>, <c>attn</c>, <c>ln_2</c>, <c>mlp.c_fc</c> → exact GELU → <c>mlp.c_proj</c>.</summary>
internal sealed class OpenClipResidualBlock : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> ln1, ln2, fc, proj;
    private readonly OpenClipAttention attn;

    public OpenClipResidualBlock(TextEncoderConfig c) : base(nameof(OpenClipResidualBlock))
    {
        ln1 = Layers.LayerNorm(c.Width);
        register_module("ln_1", ln1);
        attn = new OpenClipAttention(c.Width, c.Heads);
        register_module("attn", attn);
        ln2 = Layers.LayerNorm(c.Width);
        register_module("ln_2", ln2);
        var mlp = new ModuleSlots();
        fc = mlp.Add("c_fc", Layers.Linear(c.Width, c.IntermediateSize));
        proj = mlp.Add("c_proj", Layers.Linear(c.IntermediateSize, c.Width));
        register_module("mlp", mlp);
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + attn.Forward(ln1.call(x));
        x = x + proj.call(nn.functional.gelu(fc.call(ln2.call(x))));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// OpenCLIP's text transformer in the naming of SD 2.x single files (keys under <c>cond_stage_model.model.</c>):
/// <c>token_embedding</c>, <c>positional_embedding</c>, <c>transformer.resblocks.N</c>, <c>ln_final</c>. The
/// checkpoint's <c>text_projection</c> and <c>logit_scale</c> serve CLIP's contrastive head, which SD does not use,
/// so they are not part of this module. Conditioning follows LDM's <c>FrozenOpenCLIPEmbedder</c> with
/// <c>layer: "penultimate"</c>: all blocks but the last <see cref="TextEncoderConfig.SkipLastLayers"/>, then
/// <c>ln_final</c>.
/// </summary>
internal sealed class OpenClipTextModel : nn.Module, ITextEncoder
{
    private readonly nn.Module<Tensor, Tensor> tokenEmbedding, lnFinal;
    private readonly OpenClipResidualBlock[] blocks;

    public TextEncoderConfig Config { get; }

    public int Width => Config.Width;

    public OpenClipTextModel(TextEncoderConfig config) : base(nameof(OpenClipTextModel))
    {
        Config = config;
        tokenEmbedding = Layers.Embedding(config.VocabSize, config.Width);
        register_module("token_embedding", tokenEmbedding);
        register_parameter(nameof(positional_embedding), Layers.Parameter(config.MaxPositions, config.Width));
        var transformer = new ModuleSlots();
        var resblocks = new ModuleSlots();
        blocks = new OpenClipResidualBlock[config.Layers];
        for (int i = 0; i < config.Layers; i++)
            blocks[i] = resblocks.Add(i.ToString(), new OpenClipResidualBlock(config));
        transformer.Add("resblocks", resblocks);
        register_module("transformer", transformer);
        lnFinal = Layers.LayerNorm(config.Width);
        register_module("ln_final", lnFinal);
    }

#pragma warning disable IDE1006
    /// <summary>Learned positions (77, width); a property named as the key (see <see cref="OpenClipAttention"/>).</summary>
    public Parameter positional_embedding
    {
        get => get_parameter(nameof(positional_embedding))!;
        set => ConditionallyRegisterParameter(nameof(positional_embedding), value);
    }
#pragma warning restore IDE1006

    public Tensor Encode(Tensor ids) => Forward(ids, Config.SkipLastLayers);

    /// <summary>Token ids (B, N ≤ 77) → <c>ln_final</c> of the output of block <c>Layers − skipLastLayers − 1</c>.</summary>
    public Tensor Forward(Tensor ids, int skipLastLayers)
    {
        using var scope = NewDisposeScope();
        var x = tokenEmbedding.call(ids) + positional_embedding.narrow(0, 0, ids.shape[1]).unsqueeze(0);
        int run = blocks.Length - skipLastLayers;
        for (int i = 0; i < run; i++) x = blocks[i].Forward(x);
        return lnFinal.call(x).MoveToOuterDisposeScope();
    }
}
