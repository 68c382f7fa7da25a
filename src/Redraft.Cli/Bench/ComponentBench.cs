using Redraft.Diffusion.Networks;
using Redraft.Diffusion.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Cli.Bench;

/// <summary>
/// Times the engine's components on one loaded model at one size and dtype. FLOPs come from <see cref="FlopCounter"/>
/// during the warm-up run; the floor is FLOPs ÷ this machine's matmul rate for the dtype, measured before each run.
/// </summary>
internal sealed class ComponentBench(StableDiffusionModel model, int width, int height, int runs, CancellationToken ct)
{
    private int Threads => get_num_threads();

    /// <summary>
    /// Times <paramref name="work"/>: one counted warm-up, then <c>runs</c> timed runs, each right after a quick
    /// measurement of the matmul rate, so that × floor compares each run with the machine as it was at that moment
    /// (the 2-core machines are shared and their speed drifts by ±20% over a minute).
    /// </summary>
    public BenchResult Time(string name, string dtype, int batch, nn.Module[] counted, Action work)
    {
        long flops;
        using (var counter = FlopCounter.Attach(counted))
        {
            work();
            flops = counter.Flops;
        }
        double gflop = flops / 1e9;
        var matmulType = dtype == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
        var seconds = new List<double>();
        var ratios = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            ct.ThrowIfCancellationRequested();
            double rate = MatmulRate.Gflops(matmulType, ct, runs: 3);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            work();
            double elapsed = clock.Elapsed.TotalSeconds;
            seconds.Add(elapsed);
            ratios.Add(elapsed / (gflop / rate));
        }
        double median = Timing.Median(seconds);
        return new BenchResult(name, model.Name, dtype, batch, width, height, Threads, median, seconds.Min(), seconds.Max(),
            gflop, gflop / median, Timing.Median(ratios));
    }

    /// <summary>The attention kernel the UNet runs with at this dtype.</summary>
    private string AttentionKernel => model.UNetDType == ScalarType.BFloat16 && FusedAttention.IsAvailable ? "fused" : "sdpa";

    public IEnumerable<BenchResult> All(ISet<string>? only)
    {
        bool Want(string n) => only is null || only.Contains(n);
        string unetType = ComputePrecision.Name(model.UNetDType);
        long lh = height / 8, lw = width / 8;
        using var noGrad = no_grad();
        using var generator = new Generator(1);
        var ids = tensor(Enumerable.Range(0, 77).Select(i => i == 0 ? 49406L : i < 20 ? 320L + i : 49407L).ToArray()).unsqueeze(0);

        if (Want("text"))
            yield return Time("text", "fp32", 1, [(TorchSharp.torch.nn.Module)model.TextEncoder], () => { using var _ = model.TextEncoder.Encode(ids); });

        int contextDim = model.Description.UNet.ContextDim;
        foreach (int batch in new[] { 1, 2 })
        {
            if (!Want("unet")) break;
            var x = randn(new long[] { batch, 4, lh, lw }, generator: generator);
            var context = randn(new long[] { batch, 77, contextDim }, generator: generator);
            var t = full(batch, 500f);
            yield return Time("unet", unetType, batch, [model.UNet], () => { using var _ = model.UNet.Forward(x, t, context); }) with { Attention = AttentionKernel };
        }

        if (Want("vae_encode"))
        {
            var image = rand(new long[] { 1, 3, height, width }, generator: generator) * 2 - 1;
            yield return Time("vae_encode", ComputePrecision.Name(model.VaeDType), 1, [model.Vae], () =>
            {
                var (mean, std) = model.Vae.Encode(image);
                mean.Dispose();
                std.Dispose();
            });
        }
        if (Want("vae_decode"))
        {
            var latent = randn(new long[] { 1, 4, lh, lw }, generator: generator);
            yield return Time("vae_decode", ComputePrecision.Name(model.VaeDType), 1, [model.Vae], () => { using var _ = model.Vae.Decode(latent); });
        }
        if (model.Taesd is { } taesd)
        {
            if (Want("taesd_encode"))
            {
                var image = rand(new long[] { 1, 3, height, width }, generator: generator) * 2 - 1;
                yield return Time("taesd_encode", "fp32", 1, [taesd.Encoder], () => { using var _ = taesd.Encode(image); });
            }
            if (Want("taesd_decode"))
            {
                var latent = randn(new long[] { 1, 4, lh, lw }, generator: generator);
                yield return Time("taesd_decode", "fp32", 1, [taesd.Decoder], () => { using var _ = taesd.Decode(latent); });
            }
        }
        if (Want("attention_64"))
        {
            // Self-attention at the UNet's first level for a 512² image: (2 × 8 heads) × 4096 tokens × 40 channels.
            long tokens = lh * lw, channels = model.Description.UNet.ModelChannels;
            int heads = model.Description.UNet.NumHeadChannels > 0 ? (int)(channels / model.Description.UNet.NumHeadChannels) : model.Description.UNet.NumHeads;
            var q = randn(new long[] { 2, tokens, channels }, generator: generator).to(model.UNetDType);
            var k = randn(new long[] { 2, tokens, channels }, generator: generator).to(model.UNetDType);
            var v = randn(new long[] { 2, tokens, channels }, generator: generator).to(model.UNetDType);
            yield return Time("attention_64", unetType, 2, [], () => { using var _ = Attention.MultiHead(q, k, v, heads); }) with { Attention = AttentionKernel };
            // libtorch's kernel on the same bf16 inputs, for the comparison the fused kernel is measured against.
            if (AttentionKernel == "fused")
                yield return Time("attention_64", unetType, 2, [], () => { using var _ = Attention.Sdpa(q, k, v, heads); }) with { Attention = "sdpa" };
        }
    }
}
