using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>One pre-norm CLIP encoder layer (<c>self_attn.{q,k,v,out}_proj</c>, <c>layer_norm1/2</c>, <c>mlp.fc1/fc2</c>).</summary>
internal sealed class ClipEncoderLayer : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> qProj, kProj, vProj, outProj, norm1, norm2, fc1, fc2;
    private readonly int heads;
    private readonly bool quickGelu;

    public ClipEncoderLayer(TextEncoderConfig c) : base(nameof(ClipEncoderLayer))
    {
        heads = c.Heads;
        quickGelu = c.QuickGelu;
        var attn = new ModuleSlots();
        qProj = attn.Add("q_proj", Layers.Linear(c.Width, c.Width));
        kProj = attn.Add("k_proj", Layers.Linear(c.Width, c.Width));
        vProj = attn.Add("v_proj", Layers.Linear(c.Width, c.Width));
        outProj = attn.Add("out_proj", Layers.Linear(c.Width, c.Width));
        register_module("self_attn", attn);
        norm1 = Layers.LayerNorm(c.Width);
        register_module("layer_norm1", norm1);
        var mlp = new ModuleSlots();
        fc1 = mlp.Add("fc1", Layers.Linear(c.Width, c.IntermediateSize));
        fc2 = mlp.Add("fc2", Layers.Linear(c.IntermediateSize, c.Width));
        register_module("mlp", mlp);
        norm2 = Layers.LayerNorm(c.Width);
        register_module("layer_norm2", norm2);
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = norm1.call(x);
        x = x + outProj.call(Attention.MultiHead(qProj.call(h), kProj.call(h), vProj.call(h), heads, causal: true));
        h = fc1.call(norm2.call(x));
        h = quickGelu ? h * sigmoid(1.702 * h) : nn.functional.gelu(h);
        return (x + fc2.call(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// CLIP's text transformer in Hugging Face naming (<c>text_model.embeddings…</c>, <c>text_model.encoder.layers.N…</c>,
/// <c>text_model.final_layer_norm</c>), causal self-attention over 77 tokens.
/// </summary>
internal sealed class ClipTextModel : nn.Module, ITextEncoder
{
    private readonly nn.Module<Tensor, Tensor> tokenEmbedding, positionEmbedding, finalNorm;
    private readonly ClipEncoderLayer[] layers;

    public TextEncoderConfig Config { get; }

    public int Width => Config.Width;

    public ClipTextModel(TextEncoderConfig config) : base(nameof(ClipTextModel))
    {
        Config = config;
        var textModel = new ModuleSlots();
        var embeddings = new ModuleSlots();
        tokenEmbedding = embeddings.Add("token_embedding", Layers.Embedding(config.VocabSize, config.Width));
        positionEmbedding = embeddings.Add("position_embedding", Layers.Embedding(config.MaxPositions, config.Width));
        textModel.Add("embeddings", embeddings);
        var encoder = new ModuleSlots();
        var layerSlots = new ModuleSlots();
        layers = new ClipEncoderLayer[config.Layers];
        for (int i = 0; i < config.Layers; i++)
            layers[i] = layerSlots.Add(i.ToString(), new ClipEncoderLayer(config));
        encoder.Add("layers", layerSlots);
        textModel.Add("encoder", encoder);
        finalNorm = textModel.Add("final_layer_norm", Layers.LayerNorm(config.Width));
        register_module("text_model", textModel);
    }

    /// <summary>The conditioning: <see cref="Forward"/> with the config's <see cref="TextEncoderConfig.SkipLastLayers"/>.</summary>
    public Tensor Encode(Tensor ids) => Forward(ids, Config.SkipLastLayers);

    /// <summary>
    /// Token ids (B, 77) → hidden states (B, 77, width). <paramref name="skipLastLayers"/> = 0 returns the last
    /// layer after the final layer norm (SD 1.x); 1 returns the penultimate layer's output, also normed (A1111's
    /// "CLIP skip 2" and SD 2.x's convention).
    /// </summary>
    public Tensor Forward(Tensor ids, int skipLastLayers = 0)
    {
        using var scope = NewDisposeScope();
        var positions = arange(ids.shape[1], dtype: ScalarType.Int64, device: ids.device).unsqueeze(0);
        var x = tokenEmbedding.call(ids) + positionEmbedding.call(positions);
        int run = layers.Length - skipLastLayers;
        for (int i = 0; i < run; i++) x = layers[i].Forward(x);
        return finalNorm.call(x).MoveToOuterDisposeScope();
    }
}
