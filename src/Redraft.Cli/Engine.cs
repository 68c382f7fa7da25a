using TorchSharp;

namespace Redraft.Cli;

/// <summary>Process-wide engine settings.</summary>
internal static class Engine
{
    /// <summary>Sets libtorch's intra-op threads: the option when given, else the physical core count (hyper-threads slow GEMMs down).</summary>
    public static void ConfigureThreads(int? threads)
    {
        if (threads is { } t && (t < 1 || t > 1024))
            throw new Redraft.Diffusion.RedraftInputException($"--threads must be between 1 and 1024, got {t}.");
        torch.set_num_threads(threads ?? PhysicalCores());
    }

    private static int PhysicalCores()
    {
        try
        {
            // Count distinct (physical id, core id) pairs; fall back to logical processors.
            var lines = File.ReadAllLines("/proc/cpuinfo");
            var cores = new HashSet<string>();
            string physical = "0";
            foreach (var line in lines)
            {
                if (line.StartsWith("physical id")) physical = line.Split(':')[1].Trim();
                else if (line.StartsWith("core id")) cores.Add(physical + ":" + line.Split(':')[1].Trim());
            }
            return cores.Count > 0 ? Math.Min(cores.Count, Environment.ProcessorCount) : Environment.ProcessorCount;
        }
        catch (IOException)
        {
            return Environment.ProcessorCount;
        }
    }
}
