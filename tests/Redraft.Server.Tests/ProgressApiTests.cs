using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary><c>progress</c>, <c>interrupt</c> and <c>skip</c> during a running job.</summary>
[Collection(ServerCollection.Name)]
public sealed class ProgressApiTests(ServerFixture fixture)
{
    /// <summary>A job long enough to watch: the tiny model at 256×256 runs some 10–20 steps a second on one thread.</summary>
    private static string LongJob(int steps, int nIter = 1) => $$$"""
        {"prompt": "a cat", "steps": {{{steps}}}, "width": 256, "height": 256, "seed": 11, "n_iter": {{{nIter}}},
         "override_settings": {"show_progress_every_n_steps": 2}}
        """;

    private async Task<JsonNode> Progress(bool skipImage = false) => (await fixture.Get($"/sdapi/v1/progress?skip_current_image={(skipImage ? "true" : "false")}")).Json!;

    /// <summary>Interrupts whatever still runs when a failed assertion left a long job behind, so later tests are not stuck behind it.</summary>
    private async Task StopRunningJob()
    {
        if ((await Progress(skipImage: true))["state"]!["job_count"]!.GetValue<int>() > 0) await fixture.Post("/sdapi/v1/interrupt", "");
    }

    /// <summary>Polls progress until <paramref name="done"/> holds (or the job ends, or 120 s pass).</summary>
    private async Task<List<JsonNode>> PollUntil(Task job, Func<JsonNode, bool> done)
    {
        var seen = new List<JsonNode>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!job.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            var p = await Progress();
            seen.Add(p);
            if (done(p)) break;
            await Task.Delay(50);
        }
        return seen;
    }

    [SharedDataFact]
    public async Task Progress_DuringAJob_SamplingStepAdvancesAndAPreviewComes()
    {
        await fixture.Server();
        try
        {
            var job = fixture.Post("/sdapi/v1/txt2img", LongJob(60));
            var seen = await PollUntil(job, p => p["state"]!["sampling_step"]!.GetValue<int>() >= 30 && p["current_image"] is not null);
            var (status, _) = await job;
            Assert.Equal(200, status);
            var running = seen.Where(p => p["state"]!["job_count"]!.GetValue<int>() == 1).ToList();
            var steps = running.Select(p => p["state"]!["sampling_step"]!.GetValue<int>()).Distinct().ToList();
            Assert.True(steps.Count >= 2, $"sampling_step seen: {string.Join(",", steps)}");
            Assert.Equal(steps.Order(), steps);
            Assert.All(running, p => Assert.InRange(p["progress"]!.GetValue<double>(), 0.0001, 0.9999));
            Assert.All(running, p => Assert.Equal(60, p["state"]!["sampling_steps"]!.GetValue<int>()));
            Assert.Equal("scripts_txt2img", running[0]["state"]!["job"]!.GetValue<string>());
            var preview = running.Select(p => p["current_image"]).FirstOrDefault(i => i is not null);
            Assert.NotNull(preview);
            Assert.Equal(256, ImageFiles.DecodeRgba(Convert.FromBase64String(preview!.GetValue<string>()), "preview").Width);
            var idle = await Progress();
            Assert.Equal(0, idle["progress"]!.GetValue<double>());
            Assert.Equal(0, idle["state"]!["job_count"]!.GetValue<int>());
        }
        finally
        {
            await StopRunningJob();
        }
    }

    [SharedDataFact]
    public async Task Interrupt_DuringAJob_ReturnsThePartialImageWithItsSteps()
    {
        await fixture.Server();
        try
        {
            var job = fixture.Post("/sdapi/v1/txt2img", LongJob(1000, nIter: 2));
            await PollUntil(job, p => p["state"]!["sampling_step"]!.GetValue<int>() >= 3);
            var (interruptStatus, interrupted) = await fixture.Post("/sdapi/v1/interrupt", "");
            Assert.Equal(200, interruptStatus);
            Assert.Equal("{}", interrupted!.ToJsonString());
            var (status, json) = await job;
            Assert.True(status == 200, json?.ToJsonString());
            // The first run stops where it was and is decoded; the second does not start.
            var images = TestImages.Images(json!);
            Assert.Single(images);
            var infotext = TestImages.Parameters(images[0]);
            var run = System.Text.RegularExpressions.Regex.Match(infotext, @"Steps run: (\d+) of 1000 \(interrupted\)");
            Assert.True(run.Success, infotext);
            Assert.InRange(int.Parse(run.Groups[1].Value), 3, 999);
        }
        finally
        {
            await StopRunningJob();
        }
    }

    [SharedDataFact]
    public async Task Skip_InABatch_EndsTheRunningRunAndGoesOn()
    {
        await fixture.Server();
        try
        {
            var job = fixture.Post("/sdapi/v1/txt2img", LongJob(400, nIter: 2));
            await PollUntil(job, p => p["state"]!["sampling_step"]!.GetValue<int>() >= 2 && p["state"]!["job_no"]!.GetValue<int>() == 0);
            var (skipStatus, skipBody) = await fixture.Post("/sdapi/v1/skip", "");
            Assert.Equal(200, skipStatus);
            Assert.Null(skipBody);
            // Then interrupt the second run too, to keep the test short: it returns that run's partial image only.
            await PollUntil(job, p => p["state"]!["job_no"]!.GetValue<int>() == 1 && p["state"]!["sampling_step"]!.GetValue<int>() >= 2);
            await fixture.Post("/sdapi/v1/interrupt", "");
            var (status, json) = await job;
            Assert.Equal(200, status);
            var images = TestImages.Images(json!);
            Assert.Single(images);
            Assert.Contains("Seed: 12,", TestImages.Parameters(images[0]));
        }
        finally
        {
            await StopRunningJob();
        }
    }
}
