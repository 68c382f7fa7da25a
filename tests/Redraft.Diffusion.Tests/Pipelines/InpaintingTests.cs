using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Sampling;
using Redraft.Diffusion.Tools;

namespace Redraft.Diffusion.Tests.Pipelines;

/// <summary>Inpainting with a regular model (latent blending, whole or only-masked area) and with a 9-channel UNet.</summary>
/// <remarks>
/// The tiny model's random VAE decoder mixes the whole 8×8 latent (its receptive field covers it), so "outside the
/// mask is kept" is checked through the real TAESD weights as the VAE: a trained decoder is local, as SD's VAE is.
/// </remarks>
[Collection(TinyModelCollection.Name)]
public sealed class InpaintingTests(TinyModelFixture tiny) : IDisposable
{
    private const int Size = 128;
    private StableDiffusionModel? withTaesd;

    private StableDiffusionModel WithTaesd => withTaesd ??= StableDiffusionModel.Load(new ModelLoadOptions
    {
        ModelPath = tiny.SingleFile,
        TokenizerPath = SharedData.ClipDir,
        VaePath = "taesd",
        TaesdFolder = Path.Combine(SharedData.DataDir, "taesd"),
    });

    public void Dispose() => withTaesd?.Dispose();

    private static ImagePixels Picture()
    {
        var rgb = new byte[Size * Size * 3];
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                int i = (y * Size + x) * 3;
                rgb[i] = (byte)(40 + 3 * x);
                rgb[i + 1] = (byte)(200 - 2 * y);
                rgb[i + 2] = (byte)((x * y) % 256);
            }
        return new ImagePixels(Size, Size, rgb);
    }

    /// <summary>White square at (x, y) of side <paramref name="side"/>.</summary>
    private static MaskPixels Square(int x, int y, int side)
    {
        var values = new byte[Size * Size];
        for (int yy = y; yy < y + side; yy++)
            for (int xx = x; xx < x + side; xx++) values[yy * Size + xx] = 255;
        return new MaskPixels(Size, Size, values);
    }

    private static GenerationRequest Request(InpaintOptions inpaint, string sampler = "Euler a") => new()
    {
        Prompt = "a red door", Width = Size, Height = Size, Steps = 6, Seed = 9, Sampler = sampler,
        InitImage = Picture(), Strength = 0.9, Inpaint = inpaint,
    };

    private static double MeanDifference(ImagePixels a, ImagePixels b, Func<int, int, bool> where)
    {
        double sum = 0; int n = 0;
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                if (!where(x, y)) continue;
                for (int c = 0; c < 3; c++) sum += Math.Abs(a.Rgb[(y * Size + x) * 3 + c] - b.Rgb[(y * Size + x) * 3 + c]);
                n += 3;
            }
        return sum / n;
    }

    [SharedDataFact]
    public void WholePictureKeepsWhatIsOutsideTheMaskWithinVaeRoundTripError()
    {
        var pipeline = new DiffusionPipeline(WithTaesd);
        var inpaint = new InpaintOptions { Mask = Square(24, 24, 16), MaskBlur = 2 };
        var result = pipeline.Generate(Request(inpaint)).Images.Single().Image;
        var roundTrip = pipeline.Generate(Request(inpaint) with { Inpaint = null, Strength = 0 }).Images.Single().Image;

        bool Far(int x, int y) => x >= 40 + 40 || y >= 40 + 40;
        bool Inside(int x, int y) => x >= 26 && x < 38 && y >= 26 && y < 38;
        // Outside the mask the latents are the init's exactly; what remains is the decoder's own error.
        var init = Picture();
        double vaeError = MeanDifference(roundTrip, init, Far);
        double outside = MeanDifference(result, init, Far);
        double inside = MeanDifference(result, roundTrip, Inside);
        Assert.True(outside < 1.5 * vaeError + 1, $"outside the mask's reach: {outside:F2} from the original, VAE round trip alone {vaeError:F2}");
        Assert.True(inside > 3 * MeanDifference(result, roundTrip, Far), $"inside the mask ({inside:F2}) should change far more than outside");
    }

    [SharedDataFact]
    public void OnlyMaskedLeavesEveryPixelOutsideThePaddedBoxUntouched()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var inpaint = new InpaintOptions { Mask = Square(20, 20, 8), MaskBlur = 1, Area = InpaintArea.Masked, Padding = 4 };
        var result = pipeline.Generate(Request(inpaint)).Images.Single().Image;
        var init = Picture();
        // Blur reach 3 px + padding 4 around [20, 28): the box is at most [13, 35) on each axis (square working size).
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                if (x >= 13 && x < 35 && y >= 13 && y < 35) continue;
                for (int c = 0; c < 3; c++)
                    Assert.Equal(init.Rgb[(y * Size + x) * 3 + c], result.Rgb[(y * Size + x) * 3 + c]);
            }
        Assert.True(MeanDifference(result, init, (x, y) => x >= 21 && x < 27 && y >= 21 && y < 27) > 5, "the masked square did not change");
        Assert.Equal(result.Rgb, pipeline.Generate(Request(inpaint)).Images.Single().Image.Rgb);
    }

    [SharedDataFact]
    public void MaskedContentVariantsAndBadMasks()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var mask = Square(16, 16, 24);
        var original = pipeline.Generate(Request(new InpaintOptions { Mask = mask })).Images.Single().Image;
        var fill = pipeline.Generate(Request(new InpaintOptions { Mask = mask, Content = MaskedContent.Fill })).Images.Single().Image;
        var noise = pipeline.Generate(Request(new InpaintOptions { Mask = mask, Content = MaskedContent.LatentNoise })).Images.Single().Image;
        Assert.NotEqual(original.Rgb, fill.Rgb);
        Assert.NotEqual(original.Rgb, noise.Rgb);

        var wrongSize = new MaskPixels(32, 32, new byte[32 * 32]);
        var error = Assert.Throws<RedraftInputException>(() => pipeline.Generate(Request(new InpaintOptions { Mask = wrongSize })));
        Assert.Contains("mask is 32x32", error.Message);
        error = Assert.Throws<RedraftInputException>(() => pipeline.Generate(Request(new InpaintOptions { Mask = new MaskPixels(Size, Size, new byte[Size * Size]), Area = InpaintArea.Masked })));
        Assert.Contains("empty", error.Message);
        error = Assert.Throws<RedraftInputException>(() => pipeline.Generate(Request(new InpaintOptions { Mask = mask }) with { InitImage = null }));
        Assert.Contains("init image", error.Message);
    }

    public static TheoryData<string> Samplers()
    {
        var data = new TheoryData<string>();
        foreach (var s in SamplerRegistry.All) data.Add(s.Name);
        return data;
    }

    [SharedDataTheory]
    [MemberData(nameof(Samplers))]
    public void EverySamplerInpaints(string sampler)
    {
        var pipeline = new DiffusionPipeline(WithTaesd);
        var inpaint = new InpaintOptions { Mask = Square(8, 8, 24), MaskBlur = 2 };
        var a = pipeline.Generate(Request(inpaint, sampler) with { Steps = 4 }).Images.Single().Image;
        var b = pipeline.Generate(Request(inpaint, sampler) with { Steps = 4 }).Images.Single().Image;
        Assert.Equal(a.Rgb, b.Rgb);
        var roundTrip = pipeline.Generate(Request(inpaint, sampler) with { Inpaint = null, Strength = 0 }).Images.Single().Image;
        bool Corner(int x, int y) => x >= 80 && y >= 80;
        double vaeError = MeanDifference(roundTrip, Picture(), Corner);
        double corner = MeanDifference(a, Picture(), Corner);
        Assert.True(corner < 1.5 * vaeError + 1, $"far corner: {corner:F2} from the original, VAE round trip alone {vaeError:F2}");
    }

    [SharedDataFact]
    public void NineChannelInpaintingModelRuns()
    {
        var path = Path.Combine(tiny.Folder, "tiny-inpaint.safetensors");
        if (!File.Exists(path)) RandomCheckpointWriter.Write(ModelPreset.TinyInpaint, 3, path, CheckpointLayout.SingleFile);
        using var model = tiny.Load(path);
        Assert.Equal(9, model.Description.UNet.InChannels);
        var pipeline = new DiffusionPipeline(model);
        var inpaint = new InpaintOptions { Mask = Square(16, 16, 24) };
        var a = pipeline.Generate(Request(inpaint)).Images.Single().Image;
        Assert.Equal(a.Rgb, pipeline.Generate(Request(inpaint)).Images.Single().Image.Rgb);
        var txt = pipeline.Generate(new GenerationRequest { Prompt = "x", Width = Size, Height = Size, Steps = 3, Seed = 2 }).Images.Single().Image;
        Assert.Equal(Size, txt.Width);
    }
}
