using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Checkpoints;

/// <summary>Merging LoRAs into the tiny model, unmerging, namings, weights and several LoRAs at once.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class LoraMergeTests(TinyModelFixture tiny, ITestOutputHelper output) : IDisposable
{
    /// <summary>Merged fp32 weight vs. the float64 hand computation rounded once: a few fp32 ulps of the largest weight.</summary>
    private const double WeightTolerance = 1e-6;
    /// <summary>Forward of the merged model vs. forward of a second copy given the hand-merged weights.</summary>
    private const double ForwardTolerance = 1e-5;

    private readonly TempFolder folder = new();
    private int ResBlocks => tiny.Model.UNet.Config.NumResBlocks;

    private string Write(IEnumerable<LoraWeights> lora, LoraNaming naming, string name)
    {
        string path = folder.File(name + ".safetensors");
        LoraWriter.Write(path, lora, naming, ResBlocks);
        return path;
    }

    [SharedDataFact]
    public void MergedForwardEqualsForwardWithDeltaAddedByHand()
    {
        var model = tiny.Model;
        var parameters = TestLoras.Parameters(model);
        var lora = TestLoras.Random(parameters, TestLoras.Keys, seed: 1);
        string path = Write(lora, LoraNaming.Kohya, "kohya");
        var expected = TestLoras.MergeByHand(parameters, (lora, 0.8));
        var (unetBefore, textBefore) = TestLoras.Forward(model);

        // A second copy of the model gets the hand-merged weights.
        using var reference = tiny.Load(tiny.SingleFile);
        var referenceParameters = TestLoras.Parameters(reference);
        using (no_grad())
            foreach (var (key, value) in expected) referenceParameters[key].copy_(value);
        var (unetExpected, textExpected) = TestLoras.Forward(reference);

        using (var applied = AppliedLoras.Apply(model, [new LoraSpec(path, 0.8)]))
        {
            Assert.Equal(TestLoras.Keys.Order(), applied.ChangedKeys.Order());
            double worstWeight = 0;
            foreach (var (key, value) in expected)
            {
                double diff = TestLoras.MaxAbsDiff(parameters[key], value);
                double magnitude = value.abs().max().item<float>();
                worstWeight = Math.Max(worstWeight, diff / Math.Max(1, magnitude));
            }
            var (unetMerged, textMerged) = TestLoras.Forward(model);
            double unetDiff = TestLoras.MaxAbsDiff(unetMerged, unetExpected), textDiff = TestLoras.MaxAbsDiff(textMerged, textExpected);
            double unetEffect = TestLoras.MaxAbsDiff(unetMerged, unetBefore), textEffect = TestLoras.MaxAbsDiff(textMerged, textBefore);
            output.WriteLine($"weights: max |merged - hand| / max(1, |W|) = {worstWeight:E2}");
            output.WriteLine($"UNet forward: max |merged - hand| = {unetDiff:E2} (LoRA effect {unetEffect:E2}); text: {textDiff:E2} (effect {textEffect:E2})");
            Assert.True(worstWeight <= WeightTolerance, $"weights differ by {worstWeight}");
            Assert.True(unetDiff <= ForwardTolerance, $"UNet forward differs by {unetDiff}");
            Assert.True(textDiff <= ForwardTolerance, $"text forward differs by {textDiff}");
            // The comparison means something only if the LoRA visibly changes both outputs.
            Assert.True(unetEffect > 100 * ForwardTolerance, $"the LoRA barely changes the UNet output ({unetEffect})");
            Assert.True(textEffect > 100 * ForwardTolerance, $"the LoRA barely changes the text output ({textEffect})");
        }
        var (unetAfter, textAfter) = TestLoras.Forward(model);
        Assert.Equal(TestLoras.Bytes(unetBefore), TestLoras.Bytes(unetAfter));
        Assert.Equal(TestLoras.Bytes(textBefore), TestLoras.Bytes(textAfter));
    }

    [SharedDataFact]
    public void UnmergeRestoresEveryParameterBitForBit()
    {
        var model = tiny.Model;
        var parameters = TestLoras.Parameters(model);
        var before = TestLoras.Snapshot(parameters);
        string path = Write(TestLoras.Random(parameters, TestLoras.Keys, seed: 2), LoraNaming.Kohya, "a");

        // Cached prompt encodings go stale when the text encoder changes: apply and unmerge drop them.
        TextConditioning.Encode(model, "a lighthouse at dusk");
        Assert.NotEqual(0, model.Prompts.Count);
        var applied = AppliedLoras.Apply(model, [new LoraSpec(path, 1.3)]);
        Assert.Equal(0, model.Prompts.Count);
        foreach (var key in TestLoras.Keys)
            Assert.NotEqual(before[key], TestLoras.Bytes(parameters[key]));
        TextConditioning.Encode(model, "a lighthouse at dusk");
        applied.Unmerge();
        Assert.Equal(0, model.Prompts.Count);
        Assert.False(applied.IsMerged);
        Assert.Empty(applied.ChangedKeys);
        foreach (var (key, bytes) in TestLoras.Snapshot(TestLoras.Parameters(model)))
            Assert.True(before[key].AsSpan().SequenceEqual(bytes), $"{key} not restored bit for bit");
        applied.Unmerge(); // idempotent

        // Once unmerged, another list may be applied.
        using var again = AppliedLoras.Apply(model, [new LoraSpec(path, 1.0)]);
        Assert.True(again.IsMerged);
    }

    [SharedDataFact]
    public void AllNamingsGiveIdenticalMergedWeights()
    {
        var model = tiny.Model;
        var parameters = TestLoras.Parameters(model);
        var lora = TestLoras.Random(parameters, TestLoras.Keys, seed: 3, alpha: 3.0);
        Dictionary<string, byte[]>? first = null;
        foreach (var naming in Enum.GetValues<LoraNaming>())
        {
            string path = Write(lora, naming, naming.ToString());
            using var applied = AppliedLoras.Apply(model, [new LoraSpec(path, 0.9)]);
            var merged = TestLoras.Keys.ToDictionary(k => k, k => TestLoras.Bytes(parameters[k]));
            if (first is null) first = merged;
            else
                foreach (var key in TestLoras.Keys)
                    Assert.True(first[key].AsSpan().SequenceEqual(merged[key]), $"{naming}: {key} differs from the kohya merge");
        }
    }

    [SharedDataFact]
    public void WeightZeroChangesNothing()
    {
        var model = tiny.Model;
        var parameters = TestLoras.Parameters(model);
        var before = TestLoras.Snapshot(parameters);
        string path = Write(TestLoras.Random(parameters, TestLoras.Keys, seed: 4), LoraNaming.Peft, "zero");
        using var applied = AppliedLoras.Apply(model, [new LoraSpec(path, 0)]);
        Assert.Empty(applied.ChangedKeys);
        foreach (var (key, bytes) in TestLoras.Snapshot(TestLoras.Parameters(model)))
            Assert.True(before[key].AsSpan().SequenceEqual(bytes), $"{key} changed");
    }

    [SharedDataFact]
    public void TwoLorasAddAndOrderDoesNotMatter()
    {
        var model = tiny.Model;
        var parameters = TestLoras.Parameters(model);
        // Overlapping but different layer sets, different ranks and alphas, one without alpha.
        var a = TestLoras.Random(parameters, TestLoras.Keys.Take(8), seed: 5, rank: 4, alpha: 2.0);
        var b = TestLoras.Random(parameters, TestLoras.Keys.Skip(4), seed: 6, rank: 2, alpha: null);
        string pa = Write(a, LoraNaming.Kohya, "a"), pb = Write(b, LoraNaming.Diffusers, "b");
        var expected = TestLoras.MergeByHand(parameters, (a, 0.7), (b, -0.4));

        Dictionary<string, byte[]> forward, backward;
        using (var applied = AppliedLoras.Apply(model, [new LoraSpec(pa, 0.7), new LoraSpec(pb, -0.4)]))
        {
            Assert.Equal(TestLoras.Keys.Order(), applied.ChangedKeys.Order());
            double worst = 0;
            foreach (var (key, value) in expected)
                worst = Math.Max(worst, TestLoras.MaxAbsDiff(parameters[key], value) / Math.Max(1, value.abs().max().item<float>()));
            output.WriteLine($"two LoRAs: max |merged - hand| / max(1, |W|) = {worst:E2}");
            Assert.True(worst <= WeightTolerance, $"weights differ by {worst}");
            forward = TestLoras.Keys.ToDictionary(k => k, k => TestLoras.Bytes(parameters[k]));
        }
        using (AppliedLoras.Apply(model, [new LoraSpec(pb, -0.4), new LoraSpec(pa, 0.7)]))
            backward = TestLoras.Keys.ToDictionary(k => k, k => TestLoras.Bytes(parameters[k]));
        foreach (var key in TestLoras.Keys)
            Assert.True(forward[key].AsSpan().SequenceEqual(backward[key]), $"{key}: order changes the merge");
    }

    [SharedDataFact]
    public void Bf16ParametersMergeInFp32AndUnmergeBitForBit()
    {
        using var model = tiny.Load(tiny.SingleFile);
        model.UNet.to(ScalarType.BFloat16);
        ((Redraft.Diffusion.Networks.ClipTextModel)model.TextEncoder).to(ScalarType.BFloat16);
        var parameters = TestLoras.Parameters(model);
        Assert.All(parameters.Values, p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        var before = TestLoras.Snapshot(parameters);
        var lora = TestLoras.Random(parameters, TestLoras.Keys, seed: 7);
        string path = Write(lora, LoraNaming.Kohya, "bf16");
        var expected = TestLoras.MergeByHand(parameters, (lora, 1.0));

        long differing = 0, total = 0;
        using (var applied = AppliedLoras.Apply(model, [new LoraSpec(path, 1.0)]))
        {
            foreach (var (key, value) in expected)
            {
                Assert.Equal(ScalarType.BFloat16, parameters[key].dtype);
                // fp32 sum then one rounding to bf16 vs. float64 sum then one rounding: the two roundings can fall on
                // either side of a tie only, so at most one bf16 ulp (≤ 2^-7 relative) apart.
                using var ulp = value.to(ScalarType.Float32).abs() * Math.Pow(2, -7);
                using var diff = (parameters[key].to(ScalarType.Float32) - value.to(ScalarType.Float32)).abs();
                Assert.True(diff.le(ulp).all().item<bool>(), $"{key}: more than one bf16 ulp from the hand merge");
                differing += diff.gt(0).sum().item<long>();
                total += diff.numel();
            }
        }
        output.WriteLine($"bf16: {differing} of {total} merged elements differ (by one ulp) from the float64 hand merge");
        foreach (var (key, bytes) in TestLoras.Snapshot(TestLoras.Parameters(model)))
            Assert.True(before[key].AsSpan().SequenceEqual(bytes), $"{key} not restored bit for bit");
    }

    [SharedDataFact]
    public void ApplyingTwiceWithoutUnmergeIsRefused()
    {
        var model = tiny.Model;
        string path = Write(TestLoras.Random(TestLoras.Parameters(model), TestLoras.Keys, seed: 8), LoraNaming.Kohya, "twice");
        using var first = AppliedLoras.Apply(model, [new LoraSpec(path, 1)]);
        var e = Assert.Throws<InvalidOperationException>(() => AppliedLoras.Apply(model, [new LoraSpec(path, 1)]));
        Assert.Contains("unmerge", e.Message);
    }

    public void Dispose() => folder.Dispose();
}
