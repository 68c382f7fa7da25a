using System.Diagnostics;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary><c>redraft serve</c> as a real process stopped by SIGTERM while it generates.</summary>
[Collection(ServerCollection.Name)]
public sealed class ServeProcessStopTests(ServerFixture fixture)
{
    /// <summary>
    /// SIGTERM during a job: the job is cancelled at its next step, its client gets an answer (503) or a closed
    /// connection, never a hang, and the process exits 0 within a sampler step plus 2 s (plus 1 s for a busy
    /// 2-core machine to schedule it; the tiny model's step is well under that).
    /// </summary>
    [SharedDataFact]
    public async Task Sigterm_WhileAJobRuns_CancelsItAndExitsWithinAStepPlusTwoSeconds()
    {
        await fixture.Server();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "redraft.dll"), "serve", "--port", "0", "--models-dir", fixture.ModelsDir,
                     "--model", "tiny", "--threads", "1", "--tokenizer", SharedData.ClipDir })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        try
        {
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(120));
            var url = System.Text.RegularExpressions.Regex.Match(line ?? "", @"listening on (http://127\.0\.0\.1:\d+/)");
            Assert.True(url.Success, line);
            using var client = new HttpClient { BaseAddress = new Uri(url.Groups[1].Value), Timeout = TimeSpan.FromMinutes(2) };
            var job = client.PostAsync("/sdapi/v1/txt2img", new StringContent(
                """{"prompt": "a long job", "steps": 1000, "width": 256, "height": 256, "seed": 5}""", System.Text.Encoding.UTF8, "application/json"));
            var clock = Stopwatch.StartNew();
            double stepSeconds = 0;
            while (true)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the job did not reach step 3");
                var state = JsonNode.Parse(await client.GetStringAsync("/sdapi/v1/progress?skip_current_image=true"))!["state"]!;
                int step = state["sampling_step"]!.GetValue<int>();
                if (step >= 3)
                {
                    stepSeconds = clock.Elapsed.TotalSeconds / step;
                    break;
                }
                await Task.Delay(20);
            }

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])!) kill.WaitForExit();
            var stopping = Stopwatch.StartNew();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(exit.Token);
            var took = stopping.Elapsed;
            Assert.Equal(0, process.ExitCode);
            Assert.True(took.TotalSeconds < stepSeconds + 2 + 1, $"exited {took.TotalSeconds:F2} s after SIGTERM; a step takes {stepSeconds:F3} s");
            try
            {
                using var answer = await job;
                Assert.Equal(503, (int)answer.StatusCode);
            }
            catch (HttpRequestException)
            {
                // The connection closed with the process: also an end, not a hang.
            }
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
