using System.Runtime.InteropServices;
using Redraft.Diffusion;
using static TorchSharp.torch;

// TorchRuntime's allocator policy observed through glibc's own counter of mmapped bytes (mallinfo2), in a fresh
// process: while generating, a large tensor comes from the reused heap, not a fresh mapping; inside
// TorchRuntime.LoadingWeights it gets a mapping of its own, returned to the system when freed. Prints one line per
// check and exits 0 when all hold, 1 when one fails.

// Over glibc's largest mmap threshold (32 MB), so its default policy would map it, and under the 64 MB heap size of
// its thread arenas, so the outcome does not depend on which arena the thread was given.
const long BlockBytes = 40L << 20;

TorchRuntime.Initialize(1);
long idle = (long)Info().HBlkHd;
int failures = 0;

void Check(bool ok, string what)
{
    Console.WriteLine($"{(ok ? "ok" : "FAILED")}: {what}");
    if (!ok) failures++;
}

Check(MappedBytesWithBlocksAlive(2) == idle, "while generating, two 40 MB blocks come from the heap");
using (TorchRuntime.LoadingWeights())
{
    // Three blocks: the heap holds at most the two blocks freed above, so a third cannot come from free memory.
    using (TorchRuntime.LoadingWeights())
        Check(MappedBytesWithBlocksAlive(3) >= idle + BlockBytes, "inside two load scopes a 40 MB block that no free memory fits gets its own mapping");
    Check(MappedBytesWithBlocksAlive(3) >= idle + BlockBytes, "still loading while one scope is open");
}
Check((long)Info().HBlkHd == idle, "the mapped blocks went back to the system when freed");
Check(MappedBytesWithBlocksAlive(2) == idle, "after loading, large blocks come from the heap again");
return failures == 0 ? 0 : 1;

// Bytes in mmapped blocks while `count` freshly allocated and touched 40 MB blocks are alive. glibc maps a block
// only when no free heap memory fits it, so enough blocks must be alive at once for one to need fresh memory.
static long MappedBytesWithBlocksAlive(int count)
{
    var blocks = Enumerable.Range(0, count).Select(_ => empty(BlockBytes / 2, dtype: ScalarType.BFloat16)).ToList();
    foreach (var block in blocks) block.fill_(1);
    long mapped = (long)Info().HBlkHd;
    foreach (var block in blocks) block.Dispose();
    return mapped;
}

[DllImport("libc", EntryPoint = "mallinfo2")]
static extern MallInfo2 Info();

[StructLayout(LayoutKind.Sequential)]
struct MallInfo2
{
    public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;
}
