using Redraft.Diffusion.Networks;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>Flips the process-wide kernel switch, so it runs alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelSwitchCollection
{
    public const string Name = "native kernel switch";
}

/// <summary>
/// The native kernels never break a build or a run: without the library (a build with no C compiler, which
/// <c>.ci/run</c> makes with <c>CC=false</c> and runs these tests on, with <c>REDRAFT_EXPECT_NO_KERNELS=1</c>) every
/// bf16 layer runs on libtorch, and a request recorded with the native kernels is refused with a clear message.
/// </summary>
[Collection(KernelSwitchCollection.Name)]
public sealed class KernelFallbackTests
{
    private static bool ExpectNoKernels => Environment.GetEnvironmentVariable("REDRAFT_EXPECT_NO_KERNELS") == "1";

    [Fact]
    public void WithoutTheLibraryEverythingRunsOnLibtorch()
    {
        bool present = File.Exists(Path.Combine(AppContext.BaseDirectory, "libredraft_kernels.so"));
        if (ExpectNoKernels) Assert.False(present, "this build was made without a C compiler, yet libredraft_kernels.so is beside the tests");
        if (present) return; // the other tests cover a build with the library
        Assert.False(NativeKernels.IsBuiltAndSupported);
        Assert.Equal(TorchRuntime.KernelsLibtorch, TorchRuntime.ResolveKernels("auto"));
        var refused = Assert.Throws<RedraftInputException>(() => TorchRuntime.UseKernels("native"));
        Assert.Contains("libtorch", refused.Message);
        TorchRuntime.UseKernels("auto");
        AssertLayersRunOnLibtorch();
    }

    [Fact]
    public void ChoosingLibtorchSendsEveryLayerThereAndAutoBringsTheKernelsBack()
    {
        bool native = NativeKernels.IsBuiltAndSupported;
        try
        {
            TorchRuntime.UseKernels("libtorch");
            Assert.Equal(TorchRuntime.KernelsLibtorch, TorchRuntime.Kernels);
            AssertLayersRunOnLibtorch();
        }
        finally
        {
            TorchRuntime.UseKernels("auto");
        }
        Assert.Equal(native ? TorchRuntime.KernelsNative : TorchRuntime.KernelsLibtorch, TorchRuntime.Kernels);
        Assert.Throws<RedraftInputException>(() => TorchRuntime.UseKernels("fastest"));
    }

    /// <summary>Same shape, dtype and every value.</summary>
    private static bool Same(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    /// <summary>bf16 LayerNorm and GroupNorm(+SiLU) give exactly libtorch's fp32-inside result.</summary>
    private static void AssertLayersRunOnLibtorch()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        var tokens = randn([2, 16, 64], generator: generator).to(ScalarType.BFloat16);
        var layerNorm = new LayerNormF32(64, 1e-5, null);
        Assert.False(FusedLayerNorm.Handles(tokens));
        var expected = nn.functional.layer_norm(tokens.to(ScalarType.Float32), [64], layerNorm.weight, layerNorm.bias, 1e-5).to(ScalarType.BFloat16);
        Assert.True(Same(layerNorm.forward(tokens), expected));

        var image = ChannelsLast.Ensure(randn([1, 64, 8, 8], generator: generator).to(ScalarType.BFloat16));
        var groupNorm = new GroupNormF32(32, 64, 1e-6, null);
        Assert.False(FusedGroupNorm.Handles(image, 32));
        var reference = nn.functional.group_norm(image.to(ScalarType.Float32), 32, groupNorm.weight, groupNorm.bias, 1e-6).to(ScalarType.BFloat16);
        Assert.True(Same(groupNorm.forward(image), reference));
        Assert.True(Same(groupNorm.ForwardThenSilu(image), nn.functional.silu(reference)));
    }
}
