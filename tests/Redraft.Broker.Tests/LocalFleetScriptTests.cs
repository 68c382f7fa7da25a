using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Diffusion.Tests;
using Redraft.Tests.Shared;

namespace Redraft.Broker.Tests;

/// <summary>
/// <c>tools/local-fleet.sh</c>, the README's one-machine fleet, run as a user runs it: a broker, a server and two
/// workers come up, a txt2img goes through them, and SIGTERM to the script stops every part (ports closed, no process left).
/// </summary>
public sealed class LocalFleetScriptTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [BrokerFact]
    public async Task TheScript_StartsABrokerAServerAndTwoWorkers_ThatGenerate_AndSigtermStopsThemAll()
    {
        var folder = Directory.CreateTempSubdirectory("redraft-local-fleet-").FullName;
        Process? script = null;
        var output = new StringBuilder();
        try
        {
            string home = Path.Combine(folder, "home"), models = Path.Combine(folder, "models");
            Directory.CreateDirectory(models);
            // The tokenizer and TAESD where a user's first run puts them: $REDRAFT_HOME/clip and /taesd.
            Directory.CreateDirectory(home);
            Directory.CreateSymbolicLink(Path.Combine(home, "clip"), SharedData.ClipDir);
            Directory.CreateSymbolicLink(Path.Combine(home, "taesd"), Path.Combine(SharedData.DataDir, "taesd"));
            var made = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "3", "--out", Path.Combine(models, "tiny.safetensors"));
            Assert.True(made.ExitCode == 0, made.Stderr);
            int port = FreePort(), amqp = FreePort();
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { Path.Combine(RepositoryRoot.Path, "tools", "local-fleet.sh"), "--models-dir", models, "--port", $"{port}",
                "--amqp-port", $"{amqp}", "--dir", Path.Combine(folder, "fleet") })
                start.ArgumentList.Add(a);
            start.Environment["REDRAFT_HOME"] = home;
            start.Environment["REDRAFT_COMMAND"] = $"dotnet {Path.Combine(AppContext.BaseDirectory, "redraft.dll")}";
            var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            script = Process.Start(start)!;
            void Line(string? line)
            {
                if (line is null) { running.TrySetException(new InvalidOperationException($"the script ended:\n{output}")); return; }
                lock (output) output.AppendLine(line);
                if (line.StartsWith("local-fleet: running", StringComparison.Ordinal)) running.TrySetResult();
            }
            script.OutputDataReceived += (_, e) => Line(e.Data);
            script.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            script.BeginOutputReadLine();
            script.BeginErrorReadLine();
            await running.Task.WaitAsync(TimeSpan.FromMinutes(3));

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(2) };
            var workers = JsonNode.Parse(await client.GetStringAsync("/api/v1/workers"))!;
            Assert.Equal(["worker-1", "worker-2"], workers["workers"]!.AsArray().Select(w => w!["name"]!.GetValue<string>()).Order());
            var (status, answer) = await Txt2Img.PostAsync(client, Txt2Img.Request(9, "through-the-script"));
            Assert.True(status == HttpStatusCode.OK, $"{(int)status} {answer?.ToJsonString()}\n{output}");
            Assert.StartsWith("iVBORw0KGgo", Txt2Img.Image(answer));   // a PNG

            Assert.Equal(0, Kill(script.Id, 15));
            await script.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token);
            Assert.False(RabbitBroker.PortAnswers(port), "the server still listens after the script stopped");
            Assert.False(RabbitBroker.PortAnswers(amqp), "the broker still listens after the script stopped");
            Assert.Contains("worker-2", File.ReadAllText(Path.Combine(folder, "fleet", "logs", "worker-2.log")));
        }
        finally
        {
            if (script is { HasExited: false }) script.Kill(entireProcessTree: true);
            script?.Dispose();
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
