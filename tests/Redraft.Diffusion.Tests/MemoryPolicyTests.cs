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

    [MemoryPolicyFact]
    public void LargeBlocksAreReusedWhileGeneratingAndMappedWhileLoading()
    {
        // In a process of its own: glibc's free lists keep what earlier tests freed, and a free chunk that fits a block
        // makes glibc reuse it instead of mapping, so in this process the outcome depended on the tests before it.
        var probe = Path.Combine(AppContext.BaseDirectory, "Redraft.Diffusion.MemoryProbe.dll");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(probe);
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "the memory probe did not finish in 2 minutes");
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}:\n{output.Result}{errors.Result}");
        Assert.Equal(5, output.Result.Split('\n').Count(l => l.StartsWith("ok: ")));
    }
}
