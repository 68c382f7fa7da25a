using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>The UNet's channels-last convolution weights: same names, same values, same outputs up to rounding.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ChannelsLastTests(TinyModelFixture tiny)
{
    [SharedDataFact]
    public void ConvolutionWeightsAreChannelsLastWithUnchangedNamesValuesAndOutputs()
    {
        using var model = tiny.Load(tiny.SingleFile);
        var unet = model.UNet;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(4);
        var x = randn(new long[] { 2, 4, 8, 8 }, generator: generator);
        var t = tensor(new float[] { 999, 10 });
        var context = randn(new long[] { 2, 77, model.Description.UNet.ContextDim }, generator: generator);

        var convs = unet.named_modules().Where(m => m.module is TorchSharp.Modules.Conv2d).DistinctBy(m => m.name).ToList();
        Assert.NotEmpty(convs);
        Assert.All(convs, c =>
        {
            var w = ((TorchSharp.Modules.Conv2d)c.module).weight!;
            // Channels-last strides: the input-channel dimension is the innermost one.
            Assert.Equal(1, w.stride(1));
        });
        var names = unet.named_parameters().Select(p => p.name).ToList();
        var values = unet.named_parameters().ToDictionary(p => p.name, p => p.parameter.contiguous().clone());
        var channelsLast = unet.Forward(x, t, context);

        // Back to plain NCHW weights: the same network in the reference layout.
        foreach (var (_, module) in convs)
        {
            var conv = (TorchSharp.Modules.Conv2d)module;
            conv.weight = new TorchSharp.Modules.Parameter(conv.weight!.contiguous(), requires_grad: false);
        }
        var reference = unet.Forward(x, t, context);
        double relative = (channelsLast - reference).norm().item<float>() / reference.norm().item<float>();
        Assert.True(relative < 1e-5, $"relative L2 difference {relative:E2}");

        unet.UseChannelsLastWeights();
        Assert.Equal(names, unet.named_parameters().Select(p => p.name));
        Assert.All(unet.named_parameters(), p => Assert.True(p.parameter.eq(values[p.name]).all().item<bool>(), p.name));
        Assert.True(unet.Forward(x, t, context).eq(channelsLast).all().item<bool>());
    }
}
