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
