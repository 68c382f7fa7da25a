using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>The OpenCLIP text tower's arithmetic: penultimate layer, causal mask, and equality with its CLIPTextModel conversion.</summary>
public sealed class OpenClipTextModelTests
{
    private static readonly TextEncoderConfig Small = TextEncoderConfig.OpenClipVitH14 with
    {
        VocabSize = 300, Width = 128, Layers = 3, Heads = 2, IntermediateSize = 512,
    };

    /// <summary>Tensors by name, addressed under a prefix as a weight source.</summary>
    private sealed class DictionarySource(string prefix, IReadOnlyDictionary<string, Tensor> tensors) : IWeightSource
    {
        public string Origin => "test";
        public long[]? ShapeOf(string key) => key.StartsWith(prefix) && tensors.TryGetValue(key[prefix.Length..], out var t) ? t.shape : null;
        public SafetensorsDType? DTypeOf(string key) =>
            key.StartsWith(prefix) && tensors.TryGetValue(key[prefix.Length..], out var t) ? SafetensorsDTypeExtensions.FromScalarType(t.dtype) : null;
        public Tensor Load(string key) => tensors[key[prefix.Length..]].clone();
        public Tensor Load(string key, ScalarType dtype) => tensors[key[prefix.Length..]].to(dtype).clone();
        public void Dispose() { }
    }

    private static OpenClipTextModel RandomTower(TextEncoderConfig config, ulong seed)
    {
        using var g = new Generator(seed);
        var model = new OpenClipTextModel(config);
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
            p.copy_(name.Contains("ln_") ? 1 + 0.1f * randn(p.shape, generator: g) : randn(p.shape, generator: g) * (float)(p.dim() == 2 ? 1 / Math.Sqrt(p.shape[1]) : 0.05));
        model.eval();
        return model;
    }

    private static Tensor Ids(params long[] ids) => tensor(ids, dtype: ScalarType.Int64).unsqueeze(0);

    [Fact]
    public void HuggingFaceConversionWithoutTheLastLayerGivesTheSameConditioning()
    {
        using var openClip = RandomTower(Small, 3);
        var converted = OpenClipKeyMap.ToHuggingFace(openClip.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), Small.Layers - 1)
            .ToDictionary(c => c.Key, c => c.Value);
        var hfConfig = Small with { Layers = Small.Layers - 1, SkipLastLayers = 0, Layout = TextEncoderLayout.HuggingFace };
        using var hf = Layers.OnMeta(() => new ClipTextModel(hfConfig));
        WeightLoader.Load(hf, "t.", new DictionarySource("t.", converted));
        hf.eval();

        using var noGrad = no_grad();
        using var ids = Ids(49406 % 300, 17, 250, 3, 299, 0, 0, 0);
        using var a = openClip.Encode(ids);
        using var b = hf.Encode(ids);
        Assert.Equal([1L, 8L, 128L], a.shape);
        Assert.Equal(a.data<float>().ToArray(), b.data<float>().ToArray());
        foreach (var t in converted.Values) t.Dispose();
    }

    [Fact]
    public void ConditioningIsThePenultimateLayerAndAttentionIsCausal()
    {
        using var model = RandomTower(Small, 5);
        using var noGrad = no_grad();
        using var ids = Ids(1, 2, 3, 4, 5, 6);
        using var penultimate = model.Encode(ids);
        using var explicitPenultimate = model.Forward(ids, skipLastLayers: 1);
        using var last = model.Forward(ids, skipLastLayers: 0);
        Assert.Equal(penultimate.data<float>().ToArray(), explicitPenultimate.data<float>().ToArray());
        Assert.True(penultimate.sub(last).abs().max().item<float>() > 1e-3f, "the last block must not run");

        // Changing a later token leaves every earlier position unchanged.
        using var changed = model.Encode(Ids(1, 2, 3, 4, 99, 6));
        Assert.True(penultimate[0, ..4].allclose(changed[0, ..4], rtol: 0, atol: 1e-6));
        Assert.False(penultimate[0, 4].allclose(changed[0, 4], rtol: 0, atol: 1e-3));
    }

    [Fact]
    public void MetaConstructionAllocatesNothingAndLoadMaterialisesEveryParameter()
    {
        using var source = RandomTower(Small, 9);
        var tensors = source.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        using var model = Layers.OnMeta(() => new OpenClipTextModel(Small));
        Assert.All(model.parameters(), p => Assert.Equal(DeviceType.META, p.device_type));
        WeightLoader.Load(model, OpenClipKeyMap.Prefix, new DictionarySource(OpenClipKeyMap.Prefix, tensors));
        Assert.All(model.parameters(), p => Assert.Equal(DeviceType.CPU, p.device_type));
        Assert.Equal(tensors.Count, model.named_parameters().Count());
        using var noGrad = no_grad();
        using var ids = Ids(5, 6, 7);
        Assert.Equal(source.Encode(ids).data<float>().ToArray(), model.Encode(ids).data<float>().ToArray());
    }
}
