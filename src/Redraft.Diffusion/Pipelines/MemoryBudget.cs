using Redraft.Diffusion.Checkpoints;

namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// Fits a request into the memory the process can count on, in the order AUTOMATIC1111's users expect: as asked; else
/// with the VAE decode tiled (when the caller left tiling open); else refused before anything loads, naming the
/// largest size of the same shape that fits (and a smaller batch or <c>--low-memory</c> when those would do).
/// </summary>
public static class MemoryBudget
{
    /// <summary>Sizes suggested are multiples of this (the engine needs 8; 64 are the sizes people use).</summary>
    private const int Step = 64;

    /// <summary>
    /// Whether the decode must be tiled for <paramref name="request"/> to fit in <paramref name="availableBytes"/>.
    /// <paramref name="tiling"/> is the caller's choice: true or false is kept (a false that does not fit is refused,
    /// so a recorded step never changes its bytes), null lets this choose.
    /// </summary>
    /// <exception cref="NotEnoughMemoryException">The request does not fit, even tiled when that was allowed.</exception>
    public static bool Fit(ModelDescription model, ModelLoadOptions options, GenerationRequest request, bool? tiling, long availableBytes)
    {
        bool Fits(GenerationRequest r, ModelLoadOptions o, bool tiled) => MemoryEstimate.For(model, o, r with { VaeTiling = tiled }).Peak <= availableBytes;
        bool asked = tiling ?? false;
        if (Fits(request, options, asked)) return asked;
        if (tiling is null && Fits(request, options, true)) return true;

        bool canTile = tiling != false;
        long needed = MemoryEstimate.For(model, options, request with { VaeTiling = canTile }).Peak;
        var fitting = LargestFitting(request, r => Fits(r, options, canTile));
        var ways = new List<string>();
        if (tiling == false && Fits(request, options, true)) ways.Add("turn on --vae-tiling");
        if (fitting is { } size) ways.Add($"{size.Width}x{size.Height} fits");
        if (request.BatchSize > 1)
        {
            int batch = Enumerable.Range(1, request.BatchSize - 1).Reverse().FirstOrDefault(b => Fits(request with { BatchSize = b }, options, canTile));
            if (batch > 0) ways.Add($"a batch of {batch} fits");
        }
        if (!options.LowMemory && Fits(request, options with { LowMemory = true }, canTile)) ways.Add("--low-memory fits");
        string advice = ways.Count > 0 ? string.Join(", or ", ways) : "free memory, or use a smaller model";
        int tile = MemoryEstimate.TileLatent * model.Vae.DownscaleFactor;
        string tiledNote = tiling == false ? " with VAE tiling off" : request.Width > tile || request.Height > tile ? " even with VAE tiling" : "";
        throw new NotEnoughMemoryException(
            $"{request.Width}x{request.Height}{(request.BatchSize > 1 ? $" × {request.BatchSize}" : "")} needs about {AvailableMemory.Format(needed)}{tiledNote} but {AvailableMemory.Describe(availableBytes)}; {advice}.",
            needed, availableBytes, fitting);
    }

    /// <summary>The largest size with the request's aspect (long side first, multiples of <see cref="Step"/>) that <paramref name="fits"/>; null when none.</summary>
    internal static (int Width, int Height)? LargestFitting(GenerationRequest request, Func<GenerationRequest, bool> fits)
    {
        bool wide = request.Width >= request.Height;
        int longSide = wide ? request.Width : request.Height, shortSide = wide ? request.Height : request.Width;
        for (int side = (longSide - 1) / Step * Step; side >= Step; side -= Step)
        {
            int other = Math.Max(Step, (int)((long)side * shortSide / longSide / Step * Step));
            var (w, h) = wide ? (side, other) : (other, side);
            if (fits(request with { Width = w, Height = h })) return (w, h);
        }
        return null;
    }
}
