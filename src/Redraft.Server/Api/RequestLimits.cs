namespace Redraft.Server.Api;

/// <summary>
/// The server's per-request limits (<see cref="ServerOptions.MaxPixels"/>, <see cref="ServerOptions.MaxImages"/>,
/// <see cref="ServerOptions.MaxSteps"/>): a request past one is refused with a 422 before anything is decoded or
/// queued, so one client cannot hold the generation thread or the memory for long. The message says the limit, the
/// value sent and the <c>redraft serve</c> option that raises it. A value exactly at a limit is accepted.
/// </summary>
internal static class RequestLimits
{
    /// <summary>Checks the size of one image, the number of images and the steps of a request.</summary>
    /// <exception cref="ApiException">422: a value is over its limit.</exception>
    public static void Check(ServerOptions limits, int width, int height, int batchSize, int batchCount, int steps)
    {
        long pixels = (long)Math.Max(0, width) * Math.Max(0, height);
        if (pixels > limits.MaxPixels)
            throw Over($"width × height is {width} × {height} = {pixels} pixels; this server allows {Pixels(limits.MaxPixels)} per image; ask for a smaller size",
                "--max-pixels");
        long images = (long)Math.Max(0, batchSize) * Math.Max(0, batchCount);
        if (images > limits.MaxImages)
            throw Over($"batch_size × n_iter is {batchSize} × {batchCount} = {images} images; this server allows {limits.MaxImages} per request; ask for fewer",
                "--max-images");
        if (steps > limits.MaxSteps)
            throw Over($"steps is {steps}; this server allows {limits.MaxSteps}; ask for fewer", "--max-steps");
    }

    /// <summary>
    /// Checks an init image the model will encode at its own size (<c>resize_mode</c> 3, latent upscale): that
    /// encode costs as much memory as generating at that size.
    /// </summary>
    /// <exception cref="ApiException">422: the init image has more pixels than the limit.</exception>
    public static void CheckEncodedInit(ServerOptions limits, int width, int height)
    {
        long pixels = (long)width * height;
        if (pixels > limits.MaxPixels)
            throw Over($"init_images[0] is {width} × {height} = {pixels} pixels and resize_mode 3 encodes it at that size; this server allows {Pixels(limits.MaxPixels)} per image; send a smaller init image or use resize_mode 0–2",
                "--max-pixels");
    }

    /// <summary>A pixel count, with its square side when it has one: <c>4194304 (2048 × 2048)</c>.</summary>
    private static string Pixels(long pixels)
    {
        long side = (long)Math.Round(Math.Sqrt(pixels));
        return side * side == pixels ? $"{pixels} ({side} × {side})" : pixels.ToString();
    }

    private static ApiException Over(string what, string option) =>
        ApiException.Unprocessable($"{what}, or start redraft serve with a larger {option}.");
}
