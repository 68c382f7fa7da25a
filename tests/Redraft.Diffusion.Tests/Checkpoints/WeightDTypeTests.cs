using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using Redraft.Diffusion.Tools;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Checkpoints;

/// <summary>
/// A weight stored as integers or booleans is refused by name when the model loads it as floating point (converted
/// silently, it gave a network that ran and produced garbage); tensors that are integers by role and are not
/// parameters, such as the CLIP text encoder's <c>position_ids</c>, keep loading.
/// </summary>
public sealed class WeightDTypeTests : IDisposable
{
    private const string Prefix = DiffusersWeightSource.TextPrefix;
    private const string Target = "text_model.final_layer_norm.weight";
    private const string PositionIds = "text_model.embeddings.position_ids";
    private static readonly TextEncoderConfig Config = ModelPreset.Tiny.Description.Text;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>The tiny text encoder's weights under <paramref name="keyPrefix"/>, <see cref="Target"/> stored as <paramref name="targetDType"/>, plus int64 position ids.</summary>
    private void WriteTextEncoder(string path, string keyPrefix, ScalarType targetDType)
    {
        using var model = new ClipTextModel(Config);
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, parameter) in model.named_parameters())
            tensors.Add(KeyValuePair.Create(keyPrefix + name, name == Target ? parameter.to(targetDType) : parameter.alias()));
        tensors.Add(KeyValuePair.Create(keyPrefix + PositionIds, arange(Config.MaxPositions, dtype: ScalarType.Int64).unsqueeze(0)));
        SafetensorsWriter.Write(path, tensors);
        foreach (var (_, t) in tensors) t.Dispose();
    }

    private static void LoadTextEncoder(IWeightSource source)
    {
        using var model = Layers.OnMeta(() => new ClipTextModel(Config));
        WeightLoader.Load(model, Prefix, source);
    }

    [Theory]
    [InlineData(ScalarType.Int32, "I32")]
    [InlineData(ScalarType.Int64, "I64")]
    [InlineData(ScalarType.Byte, "U8")]
    [InlineData(ScalarType.Bool, "BOOL")]
    public void IntegerWeightInASingleFileIsRefused(ScalarType stored, string dtypeName)
    {
        string path = _temp.File("text.safetensors");
        WriteTextEncoder(path, Prefix, stored);
        using var source = new SingleFileWeightSource(SafetensorsFile.Open(path));
        var e = Assert.Throws<CheckpointFormatException>(() => LoadTextEncoder(source));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith(path + ":", e.Message);
        Assert.Contains($"tensor {Prefix}{Target} is stored as {dtypeName}", e.Message);
        Assert.Contains("floating-point weight (F32, F16, BF16 or F64)", e.Message);
    }

    [Fact]
    public void IntegerWeightInADiffusersFolderIsRefused()
    {
        string folder = _temp.File("diffusers");
        RandomCheckpointWriter.Write(ModelPreset.Tiny, 1, folder, CheckpointLayout.Diffusers);
        WriteTextEncoder(DiffusersFolder.WeightsFile(folder, "text_encoder", "model"), "", ScalarType.Int32);
        var (_, weights) = DiffusersFolder.Open(folder);
        using (weights)
        {
            var e = Assert.Throws<CheckpointFormatException>(() => LoadTextEncoder(weights));
            Assert.Contains($"tensor {Prefix}{Target} is stored as I32", e.Message);
        }
    }

    [Fact]
    public void IntegerPositionIdsBesideFloatWeightsStillLoad()
    {
        // Guards the check above against being too broad: real SD 1.x checkpoints carry int64 position_ids.
        string path = _temp.File("text.safetensors");
        WriteTextEncoder(path, Prefix, ScalarType.Float16);
        using var source = new SingleFileWeightSource(SafetensorsFile.Open(path));
        Assert.Equal(SafetensorsDType.I64, source.DTypeOf(Prefix + PositionIds));
        LoadTextEncoder(source);
    }
}
