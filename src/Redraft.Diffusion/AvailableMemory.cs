using System.Globalization;

namespace Redraft.Diffusion;

/// <summary>
/// How much memory this process can count on in all: what the system can still give without swapping
/// (<c>MemAvailable</c> in <c>/proc/meminfo</c>, or less when the process's cgroup has a limit) plus what the process
/// holds already. The one place that reads <see cref="Variable"/>, which replaces the measurement (e.g.
/// <c>REDRAFT_AVAILABLE_MEMORY=3G</c>): to keep a server within a budget, or to make tests independent of the machine.
/// </summary>
public static class AvailableMemory
{
    /// <summary>The environment variable that sets the figure: bytes, or a number with K, M, G or T (powers of 1024).</summary>
    public const string Variable = "REDRAFT_AVAILABLE_MEMORY";

    /// <summary>The bytes available to this process in all; null when neither the variable nor the system says.</summary>
    /// <exception cref="RedraftInputException">The variable is set to something that is not a size.</exception>
    public static long? Bytes()
    {
        if (Setting() is { } text)
            return Parse(text) ?? throw new RedraftInputException($"{Variable}=\"{text}\" is not a size; give bytes or a number with K, M, G or T, e.g. {Variable}=3G.");
        long? system = MeminfoAvailable();
        if (CgroupRoom() is { } room) system = system is { } s ? Math.Min(s, room) : room;
        return system is { } free ? free + Environment.WorkingSet : null;
    }

    /// <summary>The variable's value when it is set (and not empty).</summary>
    private static string? Setting() => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } text ? text : null;

    /// <summary>"3G", "3.5GB", "512M", "1024k", "2000000000" → bytes; null when it is not a size.</summary>
    internal static long? Parse(string text)
    {
        var t = text.Trim().ToUpperInvariant();
        if (t.EndsWith("IB", StringComparison.Ordinal)) t = t[..^2];
        else if (t.EndsWith('B')) t = t[..^1];
        long unit = 1;
        if (t.Length > 0 && "KMGT".IndexOf(t[^1]) is var index and >= 0)
        {
            unit = 1L << (10 * (index + 1));
            t = t[..^1];
        }
        if (!double.TryParse(t.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
            || !double.IsFinite(value) || value <= 0 || value * unit >= long.MaxValue)
            return null;
        return (long)(value * unit);
    }

    /// <summary>"3.0 GB is available", naming the variable when it set the figure (messages of requests that do not fit).</summary>
    public static string Describe(long availableBytes) =>
        $"{Format(availableBytes)} is available{(Setting() is { } set ? $" ({Variable}={set})" : "")}";

    /// <summary>A size as messages print it: "7.9 GB", "640 MB".</summary>
    public static string Format(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString(bytes >= 100L << 30 ? "0" : "0.0", CultureInfo.InvariantCulture) + " GB"
        : (bytes >> 20).ToString(CultureInfo.InvariantCulture) + " MB";

    private static long? MeminfoAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return KiloBytes(line["MemAvailable:".Length..]);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        return null;
    }

    private static long? KiloBytes(string field) =>
        long.TryParse(field.Replace("kB", "").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long kb) ? kb * 1024 : null;

    /// <summary>
    /// What the process's cgroup may still take: its limit less its usage, counting inactive file pages as free
    /// (the kernel reclaims them first). cgroup v2 (<c>memory.max</c>) or v1 (<c>memory.limit_in_bytes</c>); null without a limit.
    /// </summary>
    private static long? CgroupRoom()
    {
        try
        {
            if (!File.Exists("/proc/self/cgroup")) return null;
            foreach (var line in File.ReadLines("/proc/self/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length != 3) continue;
                if (parts[0] == "0" && parts[1] == "")
                {
                    if (Room(Path.Join("/sys/fs/cgroup", parts[2]), "memory.max", "memory.current", "inactive_file") is { } v2) return v2;
                }
                else if (parts[1].Split(',').Contains("memory"))
                {
                    if (Room(Path.Join("/sys/fs/cgroup/memory", parts[2]), "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file") is { } v1) return v1;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        return null;
    }

    private static long? Room(string folder, string limitFile, string usageFile, string inactiveKey)
    {
        string limitPath = Path.Join(folder, limitFile), usagePath = Path.Join(folder, usageFile);
        if (!File.Exists(limitPath) || !File.Exists(usagePath)) return null;
        if (!long.TryParse(File.ReadAllText(limitPath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long limit)
            || limit >= 1L << 60)
            return null;  // "max", or v1's "no limit" (a page-rounded long.MaxValue)
        if (!long.TryParse(File.ReadAllText(usagePath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long usage)) return null;
        long inactive = 0;
        string stat = Path.Join(folder, "memory.stat");
        if (File.Exists(stat))
            foreach (var line in File.ReadLines(stat))
                if (line.StartsWith(inactiveKey + " ", StringComparison.Ordinal)
                    && long.TryParse(line[(inactiveKey.Length + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                    inactive = n;
        return Math.Max(0, limit - usage + inactive);
    }
}
