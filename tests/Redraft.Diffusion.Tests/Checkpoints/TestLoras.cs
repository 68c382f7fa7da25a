using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using Redraft.Diffusion.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Checkpoints;

/// <summary>Random LoRAs for the tiny model, and helpers to look at its parameters.</summary>
internal static class TestLoras
{
    public const string UNet = "model.diffusion_model.";
    public const string Text = "cond_stage_model.transformer.";

    /// <summary>
    /// The layers the test LoRA changes in the tiny preset: self- and cross-attention projections, both feed-forward
    /// layers, a 1×1 conv (proj_in, 4-D factors), a 1×1 conv given 2-D (Linear-form) factors (skip_connection),
    /// a 3×3 conv (res-block in_layers.2) and text-encoder attention and MLP layers.
    /// </summary>
    public static readonly string[] Keys =
    [
        UNet + "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
        UNet + "input_blocks.1.1.transformer_blocks.0.attn1.to_out.0.weight",
        UNet + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
        UNet + "input_blocks.1.1.proj_in.weight",
        UNet + "middle_block.1.transformer_blocks.0.ff.net.0.proj.weight",
        UNet + "output_blocks.1.1.transformer_blocks.0.ff.net.2.weight",
        UNet + "output_blocks.1.1.transformer_blocks.0.attn2.to_v.weight",
        UNet + "input_blocks.3.0.in_layers.2.weight",
        UNet + "input_blocks.3.0.skip_connection.weight",
        Text + "text_model.encoder.layers.0.self_attn.q_proj.weight",
        Text + "text_model.encoder.layers.1.mlp.fc1.weight",
    ];

    /// <summary>Named parameters of the model's UNet and text encoder under their full LDM keys.</summary>
    public static Dictionary<string, Tensor> Parameters(StableDiffusionModel model) => Parameters(model.UNet, (ClipTextModel)model.TextEncoder);

    public static Dictionary<string, Tensor> Parameters(UNetModel unet, ClipTextModel text)
    {
        var all = new Dictionary<string, Tensor>();
        foreach (var (name, p) in unet.named_parameters()) all[UNet + name] = p;
        foreach (var (name, p) in text.named_parameters()) all[Text + name] = p;
        return all;
    }

    /// <summary>Seeded random factors (rank <paramref name="rank"/>) for <paramref name="keys"/>, shaped from the model's parameters.</summary>
    public static List<LoraWeights> Random(IReadOnlyDictionary<string, Tensor> parameters, IEnumerable<string> keys, ulong seed,
        int rank = 4, double? alpha = 2.0)
    {
        using var generator = new Generator(seed);
        var result = new List<LoraWeights>();
        foreach (var key in keys)
        {
            var shape = parameters[key].shape;
            long outDim = shape[0], inDim = shape[1];
            bool conv = shape.Length == 4;
            bool linearFormConv = conv && key.EndsWith("skip_connection.weight");
            long[] downShape = conv && !linearFormConv ? [rank, inDim, shape[2], shape[3]] : [rank, inDim];
            long[] upShape = conv && !linearFormConv ? [outDim, rank, 1, 1] : [outDim, rank];
            // Large enough that the update is visible in the outputs (random weights are ~N(0, 1) scaled by the writer).
            var down = randn(downShape, generator: generator) * 0.1;
            var up = randn(upShape, generator: generator) * 0.1;
            result.Add(new LoraWeights(key, down, up, alpha));
        }
        return result;
    }

    /// <summary>
    /// Hand computation in float64: <c>W + Σ weight · alpha/rank · (up @ down)</c>, rounded once to the parameter's dtype.
    /// </summary>
    public static Dictionary<string, Tensor> MergeByHand(IReadOnlyDictionary<string, Tensor> parameters,
        params (IReadOnlyList<LoraWeights> Lora, double Weight)[] loras)
    {
        var sums = new Dictionary<string, Tensor>();
        foreach (var (lora, weight) in loras)
        {
            foreach (var m in lora)
            {
                var w = parameters[m.LdmKey];
                long rank = m.Down.shape[0];
                double scale = weight * (m.Alpha ?? rank) / rank;
                var up = m.Up.to(ScalarType.Float64).reshape(m.Up.shape[0], rank);
                var down = m.Down.to(ScalarType.Float64).reshape(rank, -1);
                var delta = (up.matmul(down) * scale).reshape(w.shape);
                sums[m.LdmKey] = sums.TryGetValue(m.LdmKey, out var s) ? s + delta : delta;
            }
        }
        return sums.ToDictionary(kv => kv.Key,
            kv => (parameters[kv.Key].detach().cpu().to(ScalarType.Float64) + kv.Value).to(parameters[kv.Key].dtype));
    }

    /// <summary>A copy of the tensor's bytes (CPU, contiguous).</summary>
    public static byte[] Bytes(Tensor t)
    {
        using var c = t.detach().cpu().contiguous();
        return c.bytes.ToArray();
    }

    /// <summary>Bytes of every parameter of the model.</summary>
    public static Dictionary<string, byte[]> Snapshot(IReadOnlyDictionary<string, Tensor> parameters) =>
        parameters.ToDictionary(kv => kv.Key, kv => Bytes(kv.Value));

    /// <summary>Largest |a − b| over two tensors, in float64.</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b) =>
        (a.detach().cpu().to(ScalarType.Float64) - b.detach().cpu().to(ScalarType.Float64)).abs().max().item<double>();

    /// <summary>Fixed inputs for the UNet and text forwards.</summary>
    public static (Tensor X, Tensor T, Tensor Context, Tensor Ids) Inputs(StableDiffusionModel model)
    {
        using var g = new Generator(123);
        var x = randn([1, 4, 16, 16], generator: g);
        var t = tensor(new float[] { 500f });
        var context = randn([1, 77, model.UNet.Config.ContextDim], generator: g);
        var ids = randint(model.TextEncoder.Config.VocabSize, [1, 77], generator: g, dtype: ScalarType.Int64);
        return (x, t, context, ids);
    }

    /// <summary>UNet and text forward on <see cref="Inputs"/>.</summary>
    public static (Tensor UNet, Tensor Text) Forward(StableDiffusionModel model)
    {
        using var noGrad = no_grad();
        var (x, t, context, ids) = Inputs(model);
        return (model.UNet.Forward(x, t, context), model.TextEncoder.Encode(ids));
    }
}
