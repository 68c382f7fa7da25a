using Redraft.Server.Documents;

namespace Redraft.Server.Tests;

/// <summary>The live results kept in memory: how long they stay, and that they follow a renamed document.</summary>
public sealed class LiveJobsTests
{
    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    // LiveJobs keeps and finds results without reading them: the plan, output and image are not needed here.
    private static LiveResult Result(string job) => new(job, null!, null!, null!);

    [Fact]
    public void AKeptResult_IsFoundForTenMinutes_ThenIsGone()
    {
        var clock = new ManualClock();
        var live = new LiveJobs(null!, clock);
        live.Keep("doc", 1, Result("job-1"));
        clock.Now += LiveJobs.KeptFor - TimeSpan.FromSeconds(1);
        Assert.NotNull(live.Find("doc", "job-1"));
        clock.Now += TimeSpan.FromSeconds(2);
        Assert.Null(live.Find("doc", "job-1"));
    }

    [Fact]
    public void AKeptResult_FollowsItsDocumentWhenRenamed_AndANewerResultOfTheOldNameDoesNotMixIn()
    {
        var live = new LiveJobs(null!, new ManualClock());
        live.Keep("before", 1, Result("job-1"));
        live.Rename("before", "after");
        Assert.Null(live.Find("before", "job-1"));
        Assert.Equal("job-1", live.Find("after", "job-1")!.JobId);
        // A new document given the old name starts with nothing kept.
        live.Keep("before", 2, Result("job-2"));
        Assert.Null(live.Find("before", "job-1"));
        Assert.Equal("job-1", live.Find("after", "job-1")!.JobId);
    }
}
