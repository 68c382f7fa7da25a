using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// AUTOMATIC1111's variation seeds and seed resizing for the starting noise of one image (its <c>rng.py</c>):
/// the noise of the seed and of the subseed are drawn at the "resize from" size, spherically interpolated by the
/// subseed strength, and pasted into the centre of the seed's noise at the real size. With strength 0 and no resize
/// this is exactly the seed's own draw, so plain generations keep their bytes.
/// </summary>
internal static class VariationNoise
{
    /// <summary>
    /// The start noise (1, C, H, W) of one image. <paramref name="main"/> is the image's own source (it draws first, as
    /// before); the subseed and the resize canvas come from fresh sources of <paramref name="rng"/>'s kind.
    /// </summary>
    public static Tensor Draw(INoiseSource main, string rng, long seed, long subseed, double subseedStrength,
        long[] shape, int resizeFromWidth, int resizeFromHeight, int downscale)
    {
        bool resize = resizeFromWidth > 0 && resizeFromHeight > 0
            && (resizeFromHeight / downscale != shape[2] || resizeFromWidth / downscale != shape[3]);
        var noiseShape = resize ? new[] { shape[0], shape[1], (long)(resizeFromHeight / downscale), (long)(resizeFromWidth / downscale) } : shape;
        var noise = main.Randn(noiseShape);
        if (subseedStrength != 0)
        {
            using var sub = NoiseSources.Create(rng, (ulong)subseed);
            using var subnoise = sub.Randn(noiseShape);
            using var scope = NewDisposeScope();
            var mixed = Slerp(subseedStrength, noise[0], subnoise[0]).unsqueeze(0).MoveToOuterDisposeScope();
            noise.Dispose();
            noise = mixed;
        }
        if (!resize) return noise;
        using var canvasSource = NoiseSources.Create(rng, (ulong)seed);
        var canvas = canvasSource.Randn(shape);
        // Centre the resized noise; crop it where it is larger than the canvas (A1111's offsets, rounded the same way).
        long dx = (shape[3] - noiseShape[3]) / 2, dy = (shape[2] - noiseShape[2]) / 2;
        long w = dx >= 0 ? noiseShape[3] : noiseShape[3] + 2 * dx, h = dy >= 0 ? noiseShape[2] : noiseShape[2] + 2 * dy;
        long tx = Math.Max(dx, 0), ty = Math.Max(dy, 0), sx = Math.Max(-dx, 0), sy = Math.Max(-dy, 0);
        canvas[.., .., TensorIndex.Slice(ty, ty + h), TensorIndex.Slice(tx, tx + w)] =
            noise[.., .., TensorIndex.Slice(sy, sy + h), TensorIndex.Slice(sx, sx + w)];
        noise.Dispose();
        return canvas;
    }

    /// <summary>
    /// A1111's <c>slerp(val, low, high)</c> over (C, H, W) noise: norms and dot products along dimension 1 (rows),
    /// in float32. Its near-parallel fallback returns <c>low·val + high·(1 − val)</c>, the weights the other way round
    /// from the spherical branch; kept as it is, since it decides which picture a shared seed gives.
    /// </summary>
    public static Tensor Slerp(double val, Tensor low, Tensor high)
    {
        using var scope = NewDisposeScope();
        var lowNorm = low / low.norm(1, keepdim: true);
        var highNorm = high / high.norm(1, keepdim: true);
        var dot = (lowNorm * highNorm).sum(1);
        if (dot.mean().item<float>() > 0.9995f)
            return (low * val + high * (1 - val)).MoveToOuterDisposeScope();
        var omega = dot.acos();
        var so = omega.sin();
        var result = ((1.0 - val) * omega).sin().div(so).unsqueeze(1) * low + (val * omega).sin().div(so).unsqueeze(1) * high;
        return result.MoveToOuterDisposeScope();
    }
}
