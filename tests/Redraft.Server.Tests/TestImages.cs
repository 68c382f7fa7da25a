using System.Text.Json.Nodes;

namespace Redraft.Server.Tests;

/// <summary>Pictures for requests and reading responses.</summary>
internal static class TestImages
{
    /// <summary>A 64×64 picture with a gradient and a dark square, as PNG bytes.</summary>
    public static byte[] InitPng()
    {
        var pixels = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                int i = (y * 64 + x) * 3;
                bool square = x is >= 20 and < 44 && y is >= 20 and < 44;
                pixels[i] = (byte)(square ? 30 : x * 4);
                pixels[i + 1] = (byte)(square ? 40 : y * 4);
                pixels[i + 2] = (byte)(square ? 50 : 128);
            }
        return ImageFiles.EncodePng(new RgbImage(64, 64, pixels));
    }

    /// <summary>A 64×64 opaque black-and-white mask, white (regenerate) in a rectangle.</summary>
    public static byte[] MaskPng()
    {
        var pixels = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
                if (x is >= 16 and < 40 && y is >= 24 and < 48)
                    pixels.AsSpan((y * 64 + x) * 3, 3).Fill(255);
        return ImageFiles.EncodePng(new RgbImage(64, 64, pixels));
    }

    public static string DataUrl(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);

    /// <summary>The response's images as PNG bytes.</summary>
    public static List<byte[]> Images(JsonNode response) =>
        [.. response["images"]!.AsArray().Select(i => Convert.FromBase64String(i!.GetValue<string>()))];

    /// <summary>The response's <c>info</c>, a JSON string, parsed.</summary>
    public static JsonNode Info(JsonNode response) => JsonNode.Parse(response["info"]!.GetValue<string>())!;

    public static string Parameters(byte[] png) => ImageFiles.ReadPngText(png, "response image")["parameters"];

    /// <summary>
    /// The API's PNG and the command line's show the same generation: the same pixels and the same recorded prompts,
    /// steps, sampler, CFG, seed, size, model and denoising strength. (Their infotexts differ in the order and the form
    /// of other keys: the API writes A1111's, the command line the form its recorded documents keep.)
    /// </summary>
    public static void AssertSameGeneration(byte[] cliPng, byte[] apiPng)
    {
        Assert.Equal(ImageFiles.DecodeRgba(cliPng, "cli").Pixels, ImageFiles.DecodeRgba(apiPng, "api").Pixels);
        var cli = GenerationInfo.Parse(Parameters(cliPng));
        var api = GenerationInfo.Parse(Parameters(apiPng));
        Assert.Equal(cli with { Extra = new Dictionary<string, string>() }, api with { Extra = new Dictionary<string, string>() });
    }
}
