using System.Security.Cryptography;
using Redraft.Diffusion.Tests.Checkpoints;
using Redraft.Diffusion.Tools;
using TorchSharp;

namespace Redraft.Diffusion.Tests.Tools;

/// <summary>
/// <see cref="RandomCheckpointWriter"/> draws, writes and frees one tensor at a time (SD 1.5 peaked at 10.7 GB to write
/// 2.1 GB when every draw waited for the garbage collector), and a seed keeps giving the bytes tests and benchmarks
/// were made with.
/// </summary>
public sealed class RandomCheckpointWriterTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("tiny", "single")]
    [InlineData("tiny-sd2", "single")]
    [InlineData("tiny", "diffusers")]
    [InlineData("tiny-sd2", "diffusers")]
    public void Writing_leaves_no_tensor_for_the_garbage_collector(string preset, string layout)
    {
        var kind = layout == "single" ? CheckpointLayout.SingleFile : CheckpointLayout.Diffusers;
        var output = _temp.File(layout == "single" ? "model.safetensors" : "model");
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        RandomCheckpointWriter.Write(ModelPreset.Get(preset), 1, output, kind);
        long left = DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
        Assert.True(left == 0, $"{left} tensors left alive by writing {preset} ({layout})");
    }

    /// <summary>SHA-256 of files written by the version before streaming (the README's "Model hash: 6bd293443a" is the first).</summary>
    [Theory]
    [InlineData("tiny", 1UL, "single", "", "6bd293443a1ebbf7b4f5a82b14fe00b9b4afb08708e9822868c94f4775b65a13")]
    [InlineData("tiny-sd2", 3UL, "single", "", "a17cf52a85206649b46e10c4f1edffb036b2360cad6179a9a89e007d64f22864")]
    [InlineData("tiny", 2UL, "diffusers", "unet/diffusion_pytorch_model.safetensors", "d1b6c6447985b1244c0f37a0f8735a35ffa2af1a7f2a6f19ec87e6acb7ae4b65")]
    [InlineData("tiny-sd2", 2UL, "diffusers", "text_encoder/model.safetensors", "a23bf0dcc8ab2a93c84648fb7e8e783b382bd7a3732632fa42e2e5b684f89479")]
    [InlineData("tiny-sd2", 2UL, "diffusers", "vae/diffusion_pytorch_model.safetensors", "5bb5dc8ccb2fd8c91acaac78571b6fb207e9c96305c25939bf8ed036ed94c393")]
    public void A_seed_gives_the_same_bytes_as_before(string preset, ulong seed, string layout, string file, string sha256)
    {
        var single = layout == "single";
        var output = _temp.File(single ? "model.safetensors" : "model");
        RandomCheckpointWriter.Write(ModelPreset.Get(preset), seed, output, single ? CheckpointLayout.SingleFile : CheckpointLayout.Diffusers);
        using var stream = File.OpenRead(single ? output : Path.Combine(output, file));
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(stream)));
    }
}
