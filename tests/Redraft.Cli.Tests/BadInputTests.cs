using System.Text;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;

namespace Redraft.Cli.Tests;

/// <summary>
/// Hostile or broken inputs: each must exit with code 2, print one line on stderr naming the problem, and leave
/// no output file behind.
/// </summary>
[Collection(CliModelCollection.Name)]
public sealed class BadInputTests(CliModelFixture f)
{
    /// <summary>A safetensors file from a header JSON and a data section.</summary>
    private string Safetensors(string header, int dataBytes, long? declaredHeaderLength = null)
    {
        var path = f.NewPath("hostile.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes(declaredHeaderLength ?? json.Length));
        stream.Write(json);
        stream.Write(new byte[dataBytes]);
        return path;
    }

    private static readonly System.Text.RegularExpressions.Regex ProgressLine =
        new(@"^[a-z0-9 ]+: (step \d+/\d+|[a-z]+)( \(run \d+/\d+\))? \(\+\d+\.\d\d s\)$");

    private void AssertRejected(string[] args, string expected, string output, IDictionary<string, string?>? env = null)
    {
        var run = RedraftProcess.Run(args, env);
        Assert.True(run.ExitCode == 2, $"exit {run.ExitCode}: {run.Stderr}");
        // Progress lines ("txt2img: step 2/2 (+0.10 s)") are the log of work done before a failure found while working
        // (non-finite values): the failure itself is still one line.
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !ProgressLine.IsMatch(l)).ToArray();
        Assert.True(lines.Length == 1, run.Stderr);
        Assert.Contains(expected, lines[0], StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(output), "an output file was written");
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(output)!, Path.GetFileName(output) + "*"));
    }

    private string[] WithModel(string model, string output)
    {
        var args = f.Generate("txt2img", output);
        args[Array.IndexOf(args, "--model") + 1] = model;
        return args;
    }

    public static TheoryData<string, string, int, long?> HostileHeaders => new()
    {
        // header, expected words, data bytes, declared header length
        { """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", "truncated", 8, null },
        { """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "header", 4, 1_000_000 },
        { "this is not json at all!", "JSON", 0, null },
        { """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", "overlap", 12, null },
        { """{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}""", "dtype", 4, null },
        { """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", "a", 8, null },
        { """{"a":{"dtype":"F32","shape":[1],"data_offsets":[400,404]}}""", "a", 4, null },
    };

    [SharedDataTheory]
    [MemberData(nameof(HostileHeaders))]
    public void HostileCheckpointsAreRejected(string header, string expected, int dataBytes, long? declared)
    {
        var output = f.NewPath("out.png");
        AssertRejected(WithModel(Safetensors(header, dataBytes, declared), output), expected, output);
    }

    /// <summary>Each "(" multiplies by 1.1: 1,000 nested ones overflow a float; that is the prompt's fault, said before sampling.</summary>
    [SharedDataFact]
    public void EmphasisNestedTooDeepIsBadInput()
    {
        var output = f.NewPath("out.png");
        var args = f.Generate("txt2img", output, "--prompt", new string('(', 1000) + "cat" + new string(')', 1000));
        AssertRejected(args, "weight too large", output);
    }

    [SharedDataFact]
    public void TooShortFileIsRejected()
    {
        var path = f.NewPath("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var output = f.NewPath("out.png");
        AssertRejected(WithModel(path, output), "short.safetensors", output);
    }

    /// <summary>Copies the tiny model with one tensor removed or replaced.</summary>
    private string Altered(string key, Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor?> change, bool withConfig = true)
    {
        var path = f.NewPath("altered.safetensors");
        using (var source = SafetensorsFile.Open(f.Model))
        {
            var tensors = new List<KeyValuePair<string, TorchSharp.torch.Tensor>>();
            foreach (var name in source.Tensors.Keys)
            {
                var t = source.Load(name);
                var replaced = name == key ? change(t) : t;
                if (replaced is not null) tensors.Add(KeyValuePair.Create(name, replaced));
            }
            SafetensorsWriter.Write(path, tensors);
        }
        if (withConfig) File.Copy(Path.ChangeExtension(f.Model, ".yaml"), Path.ChangeExtension(path, ".yaml"));
        return path;
    }

    /// <summary>
    /// Checkpoints whose shapes no network can have, or whose weights are not numbers: the model is sized from the
    /// shapes (no YAML beside it) or checked against its YAML, and either way the user gets one line naming the tensor
    /// (exit 2), never a libtorch error or an arithmetic exception.
    /// </summary>
    [SharedDataTheory]
    [InlineData("zero-channels", false, "input_blocks.0.0.weight")]
    [InlineData("zero-channels", true, "input_blocks.0.0.weight")]
    [InlineData("flattened", false, "input_blocks.0.0.weight")]
    [InlineData("scalar", false, "input_blocks.0.0.weight")]
    [InlineData("huge-empty", false, "input_blocks.0.0.weight")]
    [InlineData("short-vocabulary", false, "token embeddings")]
    [InlineData("short-vocabulary", true, "token embeddings")]
    [InlineData("odd-channels", false, "not a multiple")]
    [InlineData("nan-unet", true, "non-finite")]
    [InlineData("inf-vae", true, "non-finite")]
    public void ImpossibleShapesAndBrokenWeightsAreBadInput(string damage, bool withConfig, string expected)
    {
        const string U = "model.diffusion_model.";
        (string key, Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor?> change) = damage switch
        {
            "zero-channels" => (U + "input_blocks.0.0.weight", Change(t => TorchSharp.torch.zeros(0, t.shape[1], 3, 3))),
            "flattened" => (U + "input_blocks.0.0.weight", Change(t => t.reshape(t.shape[0] * t.shape[1], -1))),
            "scalar" => (U + "input_blocks.0.0.weight", Change(_ => TorchSharp.torch.tensor(1f))),
            "huge-empty" => (U + "input_blocks.0.0.weight", Change(_ => TorchSharp.torch.zeros(1L << 40, 0, 3, 3))),
            "short-vocabulary" => ("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", Change(t => t[..1000])),
            "odd-channels" => (U + "input_blocks.1.0.out_layers.3.weight", Change(t => t[..(int)(t.shape[0] - 1)])),
            "nan-unet" => (U + "out.2.weight", Change(t => TorchSharp.torch.full_like(t, float.NaN))),
            "inf-vae" => ("first_stage_model.decoder.conv_out.weight", Change(t => TorchSharp.torch.full_like(t, float.PositiveInfinity))),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        var output = f.NewPath("out.png");
        AssertRejected(WithModel(Altered(key, change, withConfig), output), expected, output);

        static Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor?> Change(Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor?> change) => change;
    }

    [SharedDataFact]
    public void MissingRequiredTensorIsNamed()
    {
        const string key = "model.diffusion_model.middle_block.1.proj_out.weight";
        var output = f.NewPath("out.png");
        AssertRejected(WithModel(Altered(key, _ => null), output), "missing tensor " + key, output);
    }

    [SharedDataFact]
    public void TensorOfTheWrongShapeIsNamed()
    {
        const string key = "first_stage_model.decoder.conv_out.weight";
        var output = f.NewPath("out.png");
        AssertRejected(WithModel(Altered(key, t => t[..2]), output), key, output);
    }

    [SharedDataFact]
    public void InitThatIsNotAnImageIsRejected()
    {
        var init = f.NewPath("notes.png");
        File.WriteAllText(init, "just some text");
        var output = f.NewPath("out.png");
        AssertRejected(f.Generate("img2img", output, "--init", init, "--strength", "0.5"), "notes.png", output);
    }

    [SharedDataTheory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    public void StrengthOutsideZeroToOneIsRejected(string strength)
    {
        var init = f.NewPath("init.png");
        ImageFiles.SavePng(init, RgbImage.Filled(64, 64, 10, 20, 30));
        var output = f.NewPath("out.png");
        AssertRejected(f.Generate("img2img", output, "--init", init, "--strength", strength), "strength", output);
    }

    [SharedDataFact]
    public void WidthNotAMultipleOfEightIsRejected()
    {
        var output = f.NewPath("out.png");
        AssertRejected(f.Generate("txt2img", output, "--width", "100"), "multiples of 8", output);
    }

    [SharedDataFact]
    public void UnknownSamplerListsTheValidOnes()
    {
        var output = f.NewPath("out.png");
        var args = f.Generate("txt2img", output, "--sampler", "Eulerr");
        AssertRejected(args, "Euler a", output);
        var run = RedraftProcess.Run(args);
        Assert.Contains("DDIM", run.Stderr);
        Assert.Contains("Eulerr", run.Stderr);
    }

    [SharedDataFact]
    public void MissingTokenizerOfflineSaysHowToFetchIt()
    {
        // Online, a missing vocabulary is downloaded (FirstRunTests); offline it is an error naming the command.
        var output = f.NewPath("out.png");
        var args = f.Generate("txt2img", output, "--offline").ToList();
        int i = args.IndexOf("--tokenizer");
        args.RemoveRange(i, 2);
        var home = Directory.CreateTempSubdirectory("redraft-home-").FullName;
        AssertRejected(args.ToArray(), "vocab.json", output, new Dictionary<string, string?> { ["HOME"] = home, ["REDRAFT_HOME"] = null });
        var run = RedraftProcess.Run(args, new Dictionary<string, string?> { ["HOME"] = home, ["REDRAFT_HOME"] = null });
        Assert.Contains("redraft models pull clip-tokenizer", run.Stderr);
        Directory.Delete(home, true);
    }

    [SharedDataFact]
    public void MissingModelAndUnknownOptionAreBadInput()
    {
        var output = f.NewPath("out.png");
        AssertRejected(WithModel(f.NewPath("nothing.safetensors"), output), "not found", output);
        AssertRejected([.. f.Generate("txt2img", output), "--frobnicate", "3"], "--frobnicate", output);
    }

    [Fact]
    public void InfoOnAFileWithoutParametersIsBadInput()
    {
        var png = Path.Combine(Path.GetTempPath(), $"{Guid.NewGuid():N}.png");
        ImageFiles.SavePng(png, RgbImage.Filled(8, 8, 1, 2, 3));
        var run = RedraftProcess.Run("info", png);
        File.Delete(png);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("no generation parameters", run.Stderr);
    }
}
