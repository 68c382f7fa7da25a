using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>
/// The module trees must carry the original checkpoints' key names and sizes. Facts checked against the public
/// SD 1.5 checkpoint layout (key names, shapes, parameter counts of the UNet, VAE and CLIP ViT-L/14 text tower).
/// </summary>
public sealed class KeyLayoutTests
{
    private static Dictionary<string, long[]> Shapes(TorchSharp.torch.nn.Module m) =>
        m.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);

    [Fact]
    public void Sd15UNetHasTheOriginalKeysShapesAndParameterCount()
    {
        using var unet = new UNetModel(UNetConfig.StableDiffusion1);
        var shapes = Shapes(unet);
        Assert.Equal([320, 4, 3, 3], shapes["input_blocks.0.0.weight"]);
        Assert.Equal([320, 320, 1, 1], shapes["input_blocks.1.1.proj_in.weight"]);
        Assert.Equal([320, 768], shapes["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"]);
        Assert.Equal([2560, 320], shapes["input_blocks.1.1.transformer_blocks.0.ff.net.0.proj.weight"]);
        Assert.Equal([320, 320, 3, 3], shapes["input_blocks.3.0.op.weight"]);
        Assert.Equal([1280, 1280, 3, 3], shapes["output_blocks.2.1.conv.weight"]);
        Assert.Equal([1280, 1280, 3, 3], shapes["output_blocks.5.2.conv.weight"]);
        Assert.Equal([640, 640, 3, 3], shapes["output_blocks.8.2.conv.weight"]);
        Assert.Equal([1280, 2560, 1, 1], shapes["output_blocks.0.0.skip_connection.weight"]);
        Assert.Equal([1280, 320], shapes["time_embed.0.weight"]);
        Assert.Equal([4, 320, 3, 3], shapes["out.2.weight"]);
        Assert.Contains("input_blocks.7.1.proj_in.weight", shapes.Keys);
        Assert.DoesNotContain(shapes.Keys, k => k.StartsWith("input_blocks.11.1."));
        Assert.DoesNotContain(shapes.Keys, k => k.StartsWith("input_blocks.10.1."));
        Assert.Equal(859_520_964L, shapes.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));

        var diffusersNames = shapes.Keys.Select(k => DiffusersKeyMap.UNetToDiffusers(k, 2)).ToList();
        Assert.Equal(diffusersNames.Count, diffusersNames.Distinct().Count());
    }

    [Fact]
    public void Sd15VaeAndTextTowerHaveTheOriginalKeysAndParameterCounts()
    {
        using var vae = new AutoencoderKL(AutoencoderConfig.StableDiffusion);
        var v = Shapes(vae);
        Assert.Equal([128, 3, 3, 3], v["encoder.conv_in.weight"]);
        Assert.Equal([256, 128, 1, 1], v["encoder.down.1.block.0.nin_shortcut.weight"]);
        Assert.Equal([512, 512, 1, 1], v["decoder.mid.attn_1.q.weight"]);
        Assert.Equal([128, 256, 3, 3], v["decoder.up.0.block.0.conv1.weight"]);
        Assert.Equal([512, 512, 3, 3], v["decoder.up.3.upsample.conv.weight"]);
        Assert.Equal([8, 8, 1, 1], v["quant_conv.weight"]);
        Assert.Equal(83_653_863L, v.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));

        using var text = new ClipTextModel(TextEncoderConfig.ClipVitL14);
        var t = Shapes(text);
        Assert.Equal([49408, 768], t["text_model.embeddings.token_embedding.weight"]);
        Assert.Equal([3072, 768], t["text_model.encoder.layers.11.mlp.fc1.weight"]);
        Assert.Equal(123_060_480L, t.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));
    }

    // SD 2.1's UNet (v2-inference.yaml: num_head_channels 64, context 1024, use_linear_in_transformer): the public
    // figure 865,910,724 is the parameter count of stabilityai/stable-diffusion-2-1's UNet.
    [Fact]
    public void Sd21UNetHasLinearProjectionsContext1024AndTheOriginalParameterCount()
    {
        using var unet = Layers.OnMeta(() => new UNetModel(UNetConfig.StableDiffusion2));
        var shapes = Shapes(unet);
        Assert.Equal([320, 320], shapes["input_blocks.1.1.proj_in.weight"]);
        Assert.Equal([320, 1024], shapes["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"]);
        Assert.Equal([1280, 1280], shapes["middle_block.1.proj_out.weight"]);
        Assert.Equal([640, 1024], shapes["output_blocks.6.1.transformer_blocks.0.attn2.to_v.weight"]);
        Assert.Equal(865_910_724L, shapes.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));
    }

    // OpenCLIP ViT-H/14's text tower as SD 2.x files store it (cond_stage_model.model.*). open_clip's
    // docs/model_profile.csv gives ViT-H-14 text_mparams = 354.03 (the tower with text_projection); the diffusers
    // SD 2.x text_encoder (CLIPTextModel, 23 layers, no projection) holds 340,387,840 parameters.
    [Fact]
    public void OpenClipVitH14TextTowerHasTheOriginalKeysAndParameterCounts()
    {
        var config = TextEncoderConfig.OpenClipVitH14;
        using var text = Layers.OnMeta(() => new OpenClipTextModel(config));
        var t = Shapes(text);
        Assert.Equal([49408, 1024], t["token_embedding.weight"]);
        Assert.Equal([77, 1024], t["positional_embedding"]);
        Assert.Equal([3072, 1024], t["transformer.resblocks.23.attn.in_proj_weight"]);
        Assert.Equal([3072], t["transformer.resblocks.0.attn.in_proj_bias"]);
        Assert.Equal([1024, 1024], t["transformer.resblocks.0.attn.out_proj.weight"]);
        Assert.Equal([4096, 1024], t["transformer.resblocks.5.mlp.c_fc.weight"]);
        Assert.Equal([1024, 4096], t["transformer.resblocks.5.mlp.c_proj.weight"]);
        Assert.Equal([1024], t["ln_final.bias"]);
        Assert.Equal([1024], t["transformer.resblocks.0.ln_2.weight"]);
        Assert.DoesNotContain("transformer.resblocks.24.ln_1.weight", t.Keys);
        long module = t.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b));
        long unused = OpenClipKeyMap.UnusedTensors(1024).Sum(u => u.Shape.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(352_984_064L, module);
        Assert.Equal(354_032_640L, module + 1024 * 1024); // with text_projection: open_clip's 354.03 M
        Assert.Equal(354_032_641L, module + unused);      // every cond_stage_model.model.* element (plus logit_scale)

        using var hf = Layers.OnMeta(() => new ClipTextModel(config with { Layers = 23, SkipLastLayers = 0, Layout = TextEncoderLayout.HuggingFace }));
        Assert.Equal(340_387_840L, Shapes(hf).Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));
    }

    [Theory]
    [InlineData("token_embedding.weight", "text_model.embeddings.token_embedding.weight")]
    [InlineData("positional_embedding", "text_model.embeddings.position_embedding.weight")]
    [InlineData("ln_final.weight", "text_model.final_layer_norm.weight")]
    [InlineData("transformer.resblocks.1.ln_1.bias", "text_model.encoder.layers.1.layer_norm1.bias")]
    [InlineData("transformer.resblocks.1.ln_2.weight", "text_model.encoder.layers.1.layer_norm2.weight")]
    [InlineData("transformer.resblocks.0.attn.out_proj.weight", "text_model.encoder.layers.0.self_attn.out_proj.weight")]
    [InlineData("transformer.resblocks.0.mlp.c_fc.bias", "text_model.encoder.layers.0.mlp.fc1.bias")]
    [InlineData("transformer.resblocks.0.mlp.c_proj.weight", "text_model.encoder.layers.0.mlp.fc2.weight")]
    public void OpenClipKeysTranslateToHuggingFaceNames(string openClip, string hf)
    {
        using var value = zeros(3, 2);
        var converted = OpenClipKeyMap.ToHuggingFace([(openClip, value)], keepLayers: 2);
        Assert.Equal(hf, Assert.Single(converted).Key);
        converted[0].Value.Dispose();
    }

    [Fact]
    public void FusedInProjectionSplitsIntoQueryKeyValueAndTheHeadIsDropped()
    {
        using var w = arange(6 * 2, dtype: ScalarType.Float32).reshape(6, 2);
        using var b = arange(6, dtype: ScalarType.Float32);
        using var proj = ones(2, 2);
        using var late = ones(2);
        var converted = OpenClipKeyMap.ToHuggingFace(
            [("transformer.resblocks.0.attn.in_proj_weight", w), ("transformer.resblocks.0.attn.in_proj_bias", b),
             ("text_projection", proj), ("transformer.resblocks.1.ln_1.weight", late)], keepLayers: 1).ToDictionary(c => c.Key, c => c.Value);
        Assert.Equal(6, converted.Count);
        Assert.Equal([0f, 1f, 2f, 3f], converted["text_model.encoder.layers.0.self_attn.q_proj.weight"].data<float>().ToArray());
        Assert.Equal([4f, 5f, 6f, 7f], converted["text_model.encoder.layers.0.self_attn.k_proj.weight"].data<float>().ToArray());
        Assert.Equal([8f, 9f, 10f, 11f], converted["text_model.encoder.layers.0.self_attn.v_proj.weight"].data<float>().ToArray());
        Assert.Equal([4f, 5f], converted["text_model.encoder.layers.0.self_attn.v_proj.bias"].data<float>().ToArray());
        foreach (var t in converted.Values) t.Dispose();
    }

    [Theory]
    [InlineData("input_blocks.1.1.proj_in.weight", "down_blocks.0.attentions.0.proj_in.weight")]
    [InlineData("input_blocks.2.0.in_layers.0.weight", "down_blocks.0.resnets.1.norm1.weight")]
    [InlineData("input_blocks.3.0.op.weight", "down_blocks.0.downsamplers.0.conv.weight")]
    [InlineData("input_blocks.4.0.skip_connection.bias", "down_blocks.1.resnets.0.conv_shortcut.bias")]
    [InlineData("input_blocks.11.0.emb_layers.1.weight", "down_blocks.3.resnets.1.time_emb_proj.weight")]
    [InlineData("middle_block.1.transformer_blocks.0.attn1.to_q.weight", "mid_block.attentions.0.transformer_blocks.0.attn1.to_q.weight")]
    [InlineData("middle_block.2.out_layers.3.weight", "mid_block.resnets.1.conv2.weight")]
    [InlineData("output_blocks.2.1.conv.weight", "up_blocks.0.upsamplers.0.conv.weight")]
    [InlineData("output_blocks.5.2.conv.bias", "up_blocks.1.upsamplers.0.conv.bias")]
    [InlineData("output_blocks.8.1.norm.weight", "up_blocks.2.attentions.2.norm.weight")]
    [InlineData("output_blocks.11.0.out_layers.0.bias", "up_blocks.3.resnets.2.norm2.bias")]
    [InlineData("time_embed.2.weight", "time_embedding.linear_2.weight")]
    [InlineData("out.0.weight", "conv_norm_out.weight")]
    public void UNetKeysTranslateToDiffusersNames(string ldm, string diffusers) =>
        Assert.Equal(diffusers, DiffusersKeyMap.UNetToDiffusers(ldm, numResBlocks: 2));

    [Theory]
    [InlineData("encoder.down.0.block.1.conv2.weight", "encoder.down_blocks.0.resnets.1.conv2.weight")]
    [InlineData("encoder.down.2.downsample.conv.weight", "encoder.down_blocks.2.downsamplers.0.conv.weight")]
    [InlineData("encoder.mid.attn_1.q.weight", "encoder.mid_block.attentions.0.to_q.weight")]
    [InlineData("decoder.mid.attn_1.proj_out.bias", "decoder.mid_block.attentions.0.to_out.0.bias")]
    [InlineData("decoder.mid.attn_1.norm.weight", "decoder.mid_block.attentions.0.group_norm.weight")]
    [InlineData("decoder.up.3.block.0.conv1.weight", "decoder.up_blocks.0.resnets.0.conv1.weight")]
    [InlineData("decoder.up.1.upsample.conv.weight", "decoder.up_blocks.2.upsamplers.0.conv.weight")]
    [InlineData("decoder.up.0.block.0.nin_shortcut.weight", "decoder.up_blocks.3.resnets.0.conv_shortcut.weight")]
    [InlineData("encoder.norm_out.bias", "encoder.conv_norm_out.bias")]
    [InlineData("post_quant_conv.weight", "post_quant_conv.weight")]
    public void VaeKeysTranslateToDiffusersNames(string ldm, string diffusers) =>
        Assert.Equal(diffusers, DiffusersKeyMap.VaeToDiffusers(ldm, levels: 4));

    [Fact]
    public void TimestepEmbeddingPutsCosineFirst()
    {
        using var t = tensor(new float[] { 0f, 10f });
        using var emb = UNetModel.TimestepEmbedding(t, 8);
        var row = emb[1].data<float>().ToArray();
        for (int i = 0; i < 4; i++)
        {
            double freq = Math.Exp(-Math.Log(10000) * i / 4);
            Assert.Equal(Math.Cos(10 * freq), row[i], 5);
            Assert.Equal(Math.Sin(10 * freq), row[i + 4], 5);
        }
        Assert.Equal([1f, 1f, 1f, 1f, 0f, 0f, 0f, 0f], emb[0].data<float>().ToArray());
    }
}

/// <summary>FLOPs counted from the layers that run, against hand-computed values.</summary>
public sealed class FlopCounterTests
{
    [Fact]
    public void CountsEachLinearConvAndAttentionOnce()
    {
        using var noGrad = no_grad();
        using var text = new ClipTextModel(new TextEncoderConfig { Width = 64, Layers = 1, Heads = 1, IntermediateSize = 128, VocabSize = 100, MaxPositions = 77 });
        using var ids = zeros(new long[] { 1, 77 }, dtype: ScalarType.Int64);
        using var counter = FlopCounter.Attach(text);
        using var _ = text.Forward(ids);
        // 4 projections 64→64, fc1 64→128, fc2 128→64 over 77 tokens, plus q·kᵀ and ·v (77×77×64).
        long linear = 2L * 77 * (4 * 64 * 64 + 64 * 128 + 128 * 64);
        long attention = 2L * 2 * 77 * 77 * 64;
        Assert.Equal(linear + attention, counter.Flops);
    }
}
