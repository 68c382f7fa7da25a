using Redraft.Diffusion.Checkpoints;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Checkpoints;

/// <summary>
/// A checkpoint truncated or replaced while it loads must give a one-line <see cref="CheckpointFormatException"/>
/// (or the old contents), never a crash: with the file memory-mapped, reading a truncated part killed the process
/// with SIGBUS.
/// </summary>
public sealed class SafetensorsChangedWhileLoadingTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// Small tensors and ones large enough to be read in several pieces across cores, in each load path: the plain
    /// copy (stored dtype) and the F16/BF16 → F32 widening.
    /// </summary>
    private string Checkpoint(string name, float value)
    {
        string path = _temp.File(name);
        using var small = full([7], value);
        using var copied = full([3 << 20], value);                        // 12 MB F32
        using var half = full([3 << 20], value, dtype: ScalarType.Float16); // 6 MB F16
        using var brain = full([3 << 20], value, dtype: ScalarType.BFloat16);
        SafetensorsWriter.Write(path, [new("small", small), new("copied", copied), new("half", half), new("brain", brain)]);
        return path;
    }

    private static void Truncate(string path, long length)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        RandomAccess.SetLength(handle, length);
    }

    private static void AssertChangedWhileLoading(string path, Action load)
    {
        var e = Assert.Throws<CheckpointFormatException>(load);
        Assert.StartsWith(path + ":", e.Message);
        Assert.Contains("changed or was truncated while loading", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>Runs <paramref name="action"/> with the header hook set for <paramref name="path"/> only (tests run in parallel).</summary>
    private static void WithHook(string path, Action<string> hook, Action action)
    {
        Action<string> filtered = p => { if (p == path) hook(p); };
        SafetensorsFile.AfterHeaderParsed += filtered;
        try
        {
            action();
        }
        finally
        {
            SafetensorsFile.AfterHeaderParsed -= filtered;
        }
    }

    [Theory]
    [InlineData("small", null)]
    [InlineData("copied", null)]
    [InlineData("half", ScalarType.Float32)]
    [InlineData("brain", ScalarType.Float32)]
    [InlineData("half", ScalarType.BFloat16)]
    public void Truncated_after_the_header_fails_every_time(string tensor, ScalarType? dtype)
    {
        string path = Checkpoint("cut.safetensors", 1.5f);
        byte[] original = File.ReadAllBytes(path);
        long headerEnd = 8 + (long)BitConverter.ToUInt64(original, 0);
        TensorInfo info;
        using (var probe = SafetensorsFile.Open(path)) info = probe.Tensors[tensor];

        for (int run = 0; run < 20; run++)
        {
            File.WriteAllBytes(path, original);
            // Cut where the tensor's data starts, or at a point inside it (run-dependent), but always before its end.
            long cut = headerEnd + info.Begin + info.ByteLength * run / 20;
            WithHook(path, p => Truncate(p, cut), () =>
            {
                using var file = SafetensorsFile.Open(path);
                AssertChangedWhileLoading(path, () => (dtype is { } d ? file.Load(tensor, d) : file.Load(tensor)).Dispose());
            });
        }
    }

    [Fact]
    public void Truncated_between_two_tensors_fails_on_the_second()
    {
        string path = Checkpoint("between.safetensors", 2.5f);
        using var file = SafetensorsFile.Open(path);
        using (var first = file.Load("small")) Assert.All(first.data<float>().ToArray(), v => Assert.Equal(2.5f, v));

        var copied = file.Tensors["copied"];
        long headerEnd = new FileInfo(path).Length - file.Tensors.Values.Max(t => t.End);
        Assert.True(file.Tensors["small"].End <= copied.Begin, "the writer's order changed; cut elsewhere");
        Truncate(path, headerEnd + copied.Begin + copied.ByteLength / 2);

        AssertChangedWhileLoading(path, () => file.Load("copied").Dispose());
        AssertChangedWhileLoading(path, () => file.Load("half", ScalarType.Float32).Dispose());
        // A tensor still wholly inside what is left loads.
        using var again = file.Load("small");
        Assert.Equal(7, again.numel());
    }

    /// <summary>
    /// A file replaced by another (written beside it and renamed over it, as downloaders and the project's own writers
    /// do) is a new file: the open one keeps its contents, so the load finishes with the old weights, all of them
    /// consistent. The next open sees the new file.
    /// </summary>
    [Fact]
    public void Replaced_while_loading_keeps_loading_the_old_contents()
    {
        string path = Checkpoint("replaced.safetensors", 3f);
        string replacement = Checkpoint("replacement.safetensors", -4f);

        WithHook(path, p => File.Move(replacement, p, overwrite: true), () =>
        {
            using var file = SafetensorsFile.Open(path);
            using (var t = file.Load("copied")) Assert.All(t.data<float>().ToArray(), v => Assert.Equal(3f, v));
            using (var t = file.Load("half", ScalarType.Float32)) Assert.All(t.data<float>().ToArray(), v => Assert.Equal(3f, v));
            using (var t = file.Load("brain", ScalarType.Float32)) Assert.All(t.data<float>().ToArray(), v => Assert.Equal(3f, v));
        });

        using var reopened = SafetensorsFile.Open(path);
        using var now = reopened.Load("small");
        Assert.All(now.data<float>().ToArray(), v => Assert.Equal(-4f, v));
    }
}
