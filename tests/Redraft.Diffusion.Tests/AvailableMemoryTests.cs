namespace Redraft.Diffusion.Tests;

/// <summary>
/// <see cref="AvailableMemory"/>: the sizes <c>REDRAFT_AVAILABLE_MEMORY</c> takes, and the measurement it replaces.
/// (The variable itself is exercised through the command line, in a process of its own: see MemoryLimitTests.)
/// </summary>
public sealed class AvailableMemoryTests
{
    [Theory]
    [InlineData("3G", 3L << 30)]
    [InlineData("3g", 3L << 30)]
    [InlineData("3GB", 3L << 30)]
    [InlineData("3GiB", 3L << 30)]
    [InlineData("1.5G", 3L << 29)]
    [InlineData(" 512M ", 512L << 20)]
    [InlineData("1024k", 1L << 20)]
    [InlineData("2T", 2L << 40)]
    [InlineData("2000000000", 2_000_000_000L)]
    public void Sizes_are_read_in_powers_of_1024(string text, long bytes) => Assert.Equal(bytes, AvailableMemory.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("lots")]
    [InlineData("-1G")]
    [InlineData("0")]
    [InlineData("3X")]
    [InlineData("1e3G")]
    [InlineData("NaN")]
    [InlineData("99999999999T")]
    public void Anything_else_is_not_a_size(string text) => Assert.Null(AvailableMemory.Parse(text));

    [Fact]
    public void On_Linux_the_measurement_counts_what_the_process_holds()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(AvailableMemory.Variable) is { Length: > 0 }) return;
        long? bytes = AvailableMemory.Bytes();
        Assert.NotNull(bytes);
        Assert.True(bytes > Environment.WorkingSet, $"{bytes} available, {Environment.WorkingSet} held");
    }

    [Theory]
    [InlineData(3L << 30, "3.0 GB")]
    [InlineData((7L << 30) + (921L << 20), "7.9 GB")]
    [InlineData(640L << 20, "640 MB")]
    [InlineData(641L << 30, "641 GB")]
    public void Sizes_print_as_messages_show_them(long bytes, string text) => Assert.Equal(text, AvailableMemory.Format(bytes));
}
