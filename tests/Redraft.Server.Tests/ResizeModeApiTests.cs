using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// img2img's <c>resize_mode</c> on an init image of another shape: 1 (crop and resize) and 2 (resize and fill) give
/// the same bytes as mode 0 with the init cropped or filled by hand; 3 (latent upscale) encodes the init at its own
/// size; "only masked" ignores the mode, as A1111 does.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ResizeModeApiTests(ServerFixture fixture)
{
    /// <summary>A picture with structure in both directions (no two columns or rows alike).</summary>
    private static RgbImage Pattern(int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3;
                pixels[i] = (byte)(x * 255 / width);
                pixels[i + 1] = (byte)(y * 255 / height);
                pixels[i + 2] = (byte)((x * 7 + y * 13) % 256);
            }
        return new RgbImage(width, height, pixels);
    }

    /// <summary>A black mask, white in the given rectangle, as an opaque grey picture.</summary>
    private static RgbImage Mask(int width, int height, int left, int top, int right, int bottom)
    {
        var pixels = new byte[width * height * 3];
        for (int y = top; y < bottom; y++)
            for (int x = left; x < right; x++)
                pixels.AsSpan((y * width + x) * 3, 3).Fill(255);
        return new RgbImage(width, height, pixels);
    }

    private static RgbImage Window(RgbImage image, int left, int top, int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            Array.Copy(image.Pixels, ((top + y) * image.Width + left) * 3, pixels, y * width * 3, width * 3);
        return new RgbImage(width, height, pixels);
    }

    private static string Url(RgbImage image) => TestImages.DataUrl(ImageFiles.EncodePng(image));

    private async Task<byte[]> Img2Img(RgbImage init, int mode, RgbImage? mask = null, bool onlyMasked = false)
    {
        string maskField = mask is null ? "" : $$""", "mask": "{{Url(mask)}}", "inpaint_full_res": {{(onlyMasked ? "true" : "false")}}, "inpainting_fill": 1""";
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", $$"""
            {"prompt": "a lighthouse", "steps": 3, "sampler_name": "Euler", "seed": 21, "denoising_strength": 0.6, "width": 64, "height": 64,
             "resize_mode": {{mode}}, "init_images": ["{{Url(init)}}"]{{maskField}}}
            """);
        Assert.True(status == 200, json?.ToJsonString());
        return TestImages.Images(json!)[0];
    }

    [SharedDataFact]
    public async Task CropAndResize_IsMode0OnTheCentreCrop_MaskIncluded()
    {
        var init = Pattern(128, 64);
        var mask = Mask(128, 64, 40, 16, 88, 48);
        // 128 × 64 into 64 × 64: the height already fits, so the centre 64 columns (32 to 95) are kept.
        Assert.Equal(await Img2Img(Window(init, 32, 0, 64, 64), 0), await Img2Img(init, 1));
        Assert.Equal(await Img2Img(Window(init, 32, 0, 64, 64), 0, Window(mask, 32, 0, 64, 64)), await Img2Img(init, 1, mask));
    }

    [SharedDataFact]
    public async Task ResizeAndFill_IsMode0OnTheImageWithItsEdgesStretched()
    {
        // 64 × 32 into 64 × 64: centred at row 16, 16-row bars above and below made from the edge rows. The three
        // outer rows on each side are alike, so the bars repeat them exactly.
        var init = Pattern(64, 32);
        for (int y = 1; y < 3; y++)
        {
            Array.Copy(init.Pixels, 0, init.Pixels, y * 64 * 3, 64 * 3);
            Array.Copy(init.Pixels, 31 * 64 * 3, init.Pixels, (31 - y) * 64 * 3, 64 * 3);
        }
        var filled = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++)
            Array.Copy(init.Pixels, Math.Clamp(y - 16, 0, 31) * 64 * 3, filled, y * 64 * 3, 64 * 3);
        Assert.Equal(await Img2Img(new RgbImage(64, 64, filled), 0), await Img2Img(init, 2));
    }

    [SharedDataFact]
    public async Task LatentUpscale_EncodesTheInitAtItsOwnSize()
    {
        var large = Pattern(128, 128);
        var upscaled = await Img2Img(large, 3);
        Assert.Equal((64, 64), (ImageFiles.DecodeRgba(upscaled, "image").Width, ImageFiles.DecodeRgba(upscaled, "image").Height));
        Assert.Equal(upscaled, await Img2Img(large, 3));
        Assert.NotEqual(await Img2Img(large, 0), upscaled);
        // At the working size there is nothing to resize: the same as mode 0.
        var small = Pattern(64, 64);
        Assert.Equal(await Img2Img(small, 0), await Img2Img(small, 3));
    }

    [SharedDataFact]
    public async Task OnlyMasked_IgnoresTheMode()
    {
        var init = Pattern(128, 64);
        var mask = Mask(128, 64, 40, 16, 88, 48);
        var plain = await Img2Img(init, 0, mask, onlyMasked: true);
        Assert.Equal(plain, await Img2Img(init, 1, mask, onlyMasked: true));
        Assert.Equal(plain, await Img2Img(init, 3, mask, onlyMasked: true));
    }

    [SharedDataTheory]
    [InlineData(3, true, "without a mask")]
    [InlineData(4, false, "resize_mode")]
    [InlineData(-1, false, "resize_mode")]
    public async Task ModesThatCannotRun_Are422(int mode, bool withMask, string expected)
    {
        string mask = withMask ? $$""", "mask": "{{Url(Mask(128, 64, 40, 16, 88, 48))}}", "inpaint_full_res": false""" : "";
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", $$"""
            {"prompt": "a lighthouse", "steps": 2, "width": 64, "height": 64, "resize_mode": {{mode}}, "init_images": ["{{Url(Pattern(128, 64))}}"]{{mask}}}
            """);
        Assert.Equal(422, status);
        Assert.Contains(expected, json!["detail"]!.GetValue<string>());
    }
}
