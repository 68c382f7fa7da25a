using Redraft.Diffusion;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using static TorchSharp.torch;

namespace Redraft.Cli.Bench;

/// <summary>
/// Model load time: <c>read</c> is the checkpoint reader alone (every tensor of the file read and converted to the
/// dtype, as the weight loader does, then freed); <c>model</c> is a whole <see cref="StableDiffusionModel.Load"/>
/// (header, detection, module building, weights, the file hash beside them). One warm-up run fills the page cache.
/// </summary>
internal static class LoadBench
{
    public static IEnumerable<BenchResult> Run(string modelPath, string? tokenizer, string dtype, int runs, CancellationToken ct)
    {
        var scalar = ComputePrecision.Resolve(dtype);
        string name = Path.GetFileNameWithoutExtension(modelPath);
        int threads = get_num_threads();

        void ReadEverything()
        {
            using var file = SafetensorsFile.Open(modelPath);
            using var loading = TorchRuntime.LoadingWeights();
            foreach (var (key, info) in file.Tensors)
            {
                using var tensor = info.DType.IsFloatingPoint() ? file.Load(key, scalar) : file.Load(key);
            }
        }
        var (median, min, max) = Timing.Measure(ReadEverything, runs, ct);
        yield return new BenchResult("load_read", name, dtype, 1, 0, 0, threads, median, min, max, double.NaN, double.NaN, double.NaN);

        void LoadModel()
        {
            using var model = StableDiffusionModel.Load(new ModelLoadOptions
            {
                ModelPath = modelPath, TokenizerPath = tokenizer, DType = dtype, VaeDType = dtype,
            }, ct);
        }
        (median, min, max) = Timing.Measure(LoadModel, runs, ct);
        yield return new BenchResult("load_model", name, dtype, 1, 0, 0, threads, median, min, max, double.NaN, double.NaN, double.NaN);
    }
}
