using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests;

/// <summary>Runs alone: the tests below read process-wide allocator counters that other tests' loads would move.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryPolicyCollection
{
    public const string Name = "glibc allocator policy";
}

/// <summary>A fact that skips, saying why, where Redraft leaves the allocator alone (not glibc, or the user tunes malloc).</summary>
public sealed class MemoryPolicyFactAttribute : FactAttribute
{
    public MemoryPolicyFactAttribute()
    {
        if (!MemoryPolicyTests.PolicyApplies(out var why)) Skip = why;
    }
}

/// <summary>
/// <see cref="TorchRuntime"/>'s allocator policy, observed through glibc's own counters (mallinfo2's bytes in
/// mmapped blocks): while generating, a large tensor comes from the reused heap, not a fresh mapping; inside
/// <see cref="TorchRuntime.LoadingWeights"/> it gets a mapping of its own, returned to the system when freed.
/// </summary>
[Collection(MemoryPolicyCollection.Name)]
public sealed class MemoryPolicyTests
{
    /// <summary>
    /// Over glibc's largest mmap threshold (32 MB), so its default policy would map it, and under the 64 MB heap size
    /// of its thread arenas, so the outcome does not depend on which arena the test thread was given.
    /// </summary>
    private const long BlockBytes = 40L << 20;

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 Info();

    internal static bool PolicyApplies(out string why)
    {
        why = "";
        if (!OperatingSystem.IsLinux()) { why = "not Linux"; return false; }
        foreach (System.Collections.DictionaryEntry v in Environment.GetEnvironmentVariables())
            if (((string)v.Key).StartsWith("MALLOC_", StringComparison.Ordinal) || (string)v.Key == "GLIBC_TUNABLES")
            { why = $"{v.Key} is set, so the policy is left to the user"; return false; }
        try { Info(); }
        catch (EntryPointNotFoundException) { why = "not glibc (no mallinfo2)"; return false; }
        return true;
    }

    /// <summary>
    /// Bytes in mmapped blocks while two freshly allocated and touched 40 MB tensors are alive. Two, because glibc
    /// maps a block only when no free heap memory fits it, and the previous call's blocks left one block's worth.
    /// </summary>
    private static long MappedBytesWithTwoBlocksAlive()
    {
        using var first = empty(BlockBytes / 2, dtype: ScalarType.BFloat16);
        using var second = empty(BlockBytes / 2, dtype: ScalarType.BFloat16);
        first.fill_(1);
        second.fill_(1);
        return (long)Info().HBlkHd;
    }

    [MemoryPolicyFact]
    public void LargeBlocksAreReusedWhileGeneratingAndMappedWhileLoading()
    {
        TorchRuntime.Initialize();
        long idle = (long)Info().HBlkHd;

        Assert.Equal(idle, MappedBytesWithTwoBlocksAlive());

        using (TorchRuntime.LoadingWeights())
        {
            using (TorchRuntime.LoadingWeights())
                Assert.True(MappedBytesWithTwoBlocksAlive() >= idle + BlockBytes, "inside two load scopes a 40 MB block that no free memory fits gets its own mapping");
            Assert.True(MappedBytesWithTwoBlocksAlive() >= idle + BlockBytes, "still loading while one scope is open");
        }
        Assert.Equal(idle, (long)Info().HBlkHd); // the mapped blocks went back to the system when freed
        Assert.Equal(idle, MappedBytesWithTwoBlocksAlive());
    }
}
