using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using Redraft.Diffusion.Tools;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Checkpoints;

/// <summary>
/// Files that are not LoRAs or do not fit the model, and bad <c>FILE:weight</c> values: one-line errors, nothing changed.
/// Uses freshly built (randomly initialised) tiny networks, so it needs no shared data.
/// </summary>
public sealed class LoraInputTests : IDisposable
{
    private readonly TempFolder folder = new();
    private readonly UNetModel unet = new(ModelPreset.Tiny.Description.UNet);
    private readonly ClipTextModel text = new(ModelPreset.Tiny.Description.Text);
    private const string ToQ = TestLoras.UNet + "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight";

    private string WriteRaw(string name, params (string Key, Tensor Value)[] tensors)
    {
        string path = folder.File(name);
        SafetensorsWriter.Write(path, tensors.Select(t => KeyValuePair.Create(t.Key, t.Value)));
        return path;
    }

    private RedraftInputException Fails(string path)
    {
        var before = TestLoras.Snapshot(TestLoras.Parameters(unet, text));
        var e = Assert.ThrowsAny<RedraftInputException>(() => AppliedLoras.Apply(unet, text, [new LoraSpec(path)]));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(path, e.Message);
        foreach (var (key, bytes) in TestLoras.Snapshot(TestLoras.Parameters(unet, text)))
            Assert.True(before[key].AsSpan().SequenceEqual(bytes), $"{key} changed by a failed apply");
        return e;
    }

    [Fact]
    public void NotALora()
    {
        var e = Fails(WriteRaw("model.safetensors", ("model.diffusion_model.out.2.weight", zeros(4, 32, 3, 3))));
        Assert.Contains("not a LoRA file", e.Message);
    }

    [Fact]
    public void KeyThatMapsToNoLayer()
    {
        // A kohya name for a block the tiny UNet does not have, and an SDXL second text tower.
        var e = Fails(WriteRaw("unknown.safetensors",
            ("lora_unet_down_blocks_7_attentions_0_proj_in.lora_down.weight", zeros(4, 32)),
            ("lora_unet_down_blocks_7_attentions_0_proj_in.lora_up.weight", zeros(32, 4)),
            ("lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", zeros(4, 64)),
            ("lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", zeros(64, 4))));
        Assert.Contains("match no layer", e.Message);
        Assert.Contains("lora_unet_down_blocks_7_attentions_0_proj_in", e.Message);
        Assert.Contains("lora_te2_", e.Message);
    }

    [Fact]
    public void UnknownTensorBesideGoodModules()
    {
        string module = LoraWriter.ModuleName(ToQ, LoraNaming.Kohya, 1);
        var e = Fails(WriteRaw("extra.safetensors",
            (module + ".lora_down.weight", zeros(4, 32)),
            (module + ".lora_up.weight", zeros(32, 4)),
            (module + ".hada_w1_a", zeros(32, 4))));
        Assert.Contains("hada_w1_a", e.Message);
    }

    [Fact]
    public void IntegerLoraWeightIsRefused()
    {
        // Converted silently, an I32 lora_up would be merged into the model as if it were a float weight.
        string module = LoraWriter.ModuleName(ToQ, LoraNaming.Kohya, 1);
        var e = Fails(WriteRaw("ints.safetensors",
            (module + ".lora_down.weight", zeros(4, 32)),
            (module + ".lora_up.weight", ones(32, 4, dtype: ScalarType.Int32))));
        Assert.Contains(module + ".lora_up.weight is stored as I32", e.Message);
    }

    [Fact]
    public void FlattenedNameIsNotGuessed()
    {
        // "to_q" flattened correctly is "..._attn1_to_q"; a name that only naive '_'→'.' guessing could produce is refused.
        var e = Fails(WriteRaw("guess.safetensors",
            ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_toq.lora_down.weight", zeros(4, 32)),
            ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_toq.lora_up.weight", zeros(32, 4))));
        Assert.Contains("match no layer", e.Message);
    }

    [Theory]
    [InlineData(new long[] { 4, 48 }, new long[] { 32, 4 })]   // in features differ
    [InlineData(new long[] { 4, 32 }, new long[] { 40, 4 })]   // out features differ
    [InlineData(new long[] { 4, 32 }, new long[] { 32, 3 })]   // ranks differ
    [InlineData(new long[] { 4, 32, 3, 3 }, new long[] { 32, 4, 1, 1 })] // conv factors for a Linear layer
    public void ShapeMismatch(long[] down, long[] up)
    {
        string module = LoraWriter.ModuleName(ToQ, LoraNaming.Kohya, 1);
        var e = Fails(WriteRaw("shape.safetensors",
            (module + ".lora_down.weight", zeros(down)), (module + ".lora_up.weight", zeros(up))));
        Assert.Contains("does not fit", e.Message);
        Assert.Contains(module, e.Message);
        Assert.Contains(ToQ, e.Message);
    }

    [Fact]
    public void MissingUpWeight()
    {
        string module = LoraWriter.ModuleName(ToQ, LoraNaming.Peft, 1);
        var e = Fails(WriteRaw("half.safetensors", (module + ".lora_A.weight", zeros(4, 32))));
        Assert.Contains("no up weight", e.Message);
    }

    [Fact]
    public void TwoNamesForOneLayer()
    {
        string kohya = LoraWriter.ModuleName(ToQ, LoraNaming.Kohya, 1), ldm = LoraWriter.ModuleName(ToQ, LoraNaming.KohyaLdm, 1);
        var e = Fails(WriteRaw("dup.safetensors",
            (kohya + ".lora_down.weight", zeros(4, 32)), (kohya + ".lora_up.weight", zeros(32, 4)),
            (ldm + ".lora_down.weight", zeros(4, 32)), (ldm + ".lora_up.weight", zeros(32, 4))));
        Assert.Contains("both change", e.Message);
    }

    [Fact]
    public void MissingFileAndPickledFile()
    {
        Assert.Contains("not found", Fails(folder.File("absent.safetensors")).Message);
        string ckpt = folder.File("old.ckpt");
        File.WriteAllBytes(ckpt, [0x80, 0x02]);
        Assert.Contains("only .safetensors", Fails(ckpt).Message);
    }

    [Fact]
    public void OneBadFileInTheListChangesNothing()
    {
        var parameters = TestLoras.Parameters(unet, text);
        string good = folder.File("good.safetensors");
        LoraWriter.Write(good, TestLoras.Random(parameters, TestLoras.Keys, seed: 9), LoraNaming.Kohya, 1);
        string bad = WriteRaw("bad.safetensors", ("x.weight", zeros(2)));
        var before = TestLoras.Snapshot(parameters);
        Assert.ThrowsAny<RedraftInputException>(() => AppliedLoras.Apply(unet, text, [new LoraSpec(good), new LoraSpec(bad)]));
        foreach (var (key, bytes) in TestLoras.Snapshot(parameters))
            Assert.True(before[key].AsSpan().SequenceEqual(bytes), $"{key} changed by a failed apply");
        using var ok = AppliedLoras.Apply(unet, text, [new LoraSpec(good)]); // and the networks are not left locked
        Assert.Equal(TestLoras.Keys.Length, ok.ChangedKeys.Count);
    }

    [Fact]
    public void LegacyProcessorAndBarePeftNamingsMergeLikeKohya()
    {
        var parameters = TestLoras.Parameters(unet, text);
        const string attn = TestLoras.UNet + "input_blocks.1.1.transformer_blocks.0.attn1.";
        const string qProj = TestLoras.Text + "text_model.encoder.layers.0.self_attn.q_proj.weight";
        var lora = TestLoras.Random(parameters, [attn + "to_q.weight", attn + "to_out.0.weight", qProj], seed: 10, alpha: null);
        string kohya = folder.File("kohya.safetensors");
        LoraWriter.Write(kohya, lora, LoraNaming.Kohya, 1);
        const string processor = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.";
        string legacy = WriteRaw("processor.safetensors",
            (processor + "to_q_lora.down.weight", lora[0].Down), (processor + "to_q_lora.up.weight", lora[0].Up),
            (processor + "to_out_lora.down.weight", lora[1].Down), (processor + "to_out_lora.up.weight", lora[1].Up),
            ("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.down.weight", lora[2].Down),
            ("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.up.weight", lora[2].Up));
        string peft = WriteRaw("peft.safetensors",
            ("base_model.model.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight", lora[0].Down),
            ("base_model.model.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight", lora[0].Up),
            ("base_model.model.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora_A.weight", lora[1].Down),
            ("base_model.model.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora_B.weight", lora[1].Up),
            ("base_model.model.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight", lora[2].Down),
            ("base_model.model.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight", lora[2].Up));
        Dictionary<string, byte[]> Merged(string path)
        {
            using var applied = AppliedLoras.Apply(unet, text, [new LoraSpec(path, 0.6)]);
            Assert.Equal(3, applied.ChangedKeys.Count);
            return lora.ToDictionary(m => m.LdmKey, m => TestLoras.Bytes(parameters[m.LdmKey]));
        }
        var expected = Merged(kohya);
        foreach (var path in new[] { legacy, peft })
        {
            var merged = Merged(path);
            foreach (var m in lora)
                Assert.True(expected[m.LdmKey].AsSpan().SequenceEqual(merged[m.LdmKey]), $"{Path.GetFileName(path)}: {m.LdmKey}");
        }
    }

    [Theory]
    [InlineData("style.safetensors", "style.safetensors", 1.0)]
    [InlineData("style.safetensors:0.8", "style.safetensors", 0.8)]
    [InlineData("style.safetensors:-1", "style.safetensors", -1.0)]
    [InlineData("style.safetensors:+.5", "style.safetensors", 0.5)]
    [InlineData("style.safetensors:1e-1", "style.safetensors", 0.1)]
    [InlineData("/loras/a:b.safetensors", "/loras/a:b.safetensors", 1.0)]
    [InlineData("/loras/a:b.safetensors:0.25", "/loras/a:b.safetensors", 0.25)]
    [InlineData("/data:2/a.safetensors", "/data:2/a.safetensors", 1.0)]
    public void ParsesFileAndWeight(string text, string path, double weight)
    {
        var spec = LoraSpec.Parse(text);
        Assert.Equal(path, spec.Path);
        Assert.Equal(weight, spec.Weight);
        Assert.Equal(spec, LoraSpec.Parse(spec.ToString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("style.safetensors:")]
    [InlineData("style.safetensors:0.8.1")]
    [InlineData("style.safetensors:1,5")]
    [InlineData("style.safetensors:-")]
    [InlineData(":0.5")]
    [InlineData("style.safetensors:NaN")]
    [InlineData("style.safetensors:Infinity")]
    [InlineData("style.safetensors:1e999")]
    public void RejectsBadSyntax(string text)
    {
        var e = Assert.Throws<RedraftInputException>(() => LoraSpec.Parse(text));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith("LoRA", e.Message);
    }

    public void Dispose()
    {
        unet.Dispose();
        text.Dispose();
        folder.Dispose();
    }
}
