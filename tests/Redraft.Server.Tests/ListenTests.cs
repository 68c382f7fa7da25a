using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Redraft.Server.Tests;

/// <summary><c>--listen</c> (every interface) needs <c>--api-auth</c>: without it the server does not start.</summary>
public sealed class ListenTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("redraft-server-listen-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Listen_WithoutApiAuth_RefusesToStartSayingHowToSetIt()
    {
        var error = await Assert.ThrowsAsync<RedraftInputException>(() =>
            RedraftServer.StartAsync(new ServerOptions { Port = 0, Listen = true, ModelsDir = _folder, Threads = 1 }, TextWriter.Null));
        Assert.Contains("--api-auth user:password", error.Message);
        Assert.DoesNotContain("\n", error.Message);
    }

    [Fact]
    public async Task ServeProcess_ListenWithoutApiAuth_ExitsTwoWithOneLine()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "redraft.dll"), "serve", "--listen", "--port", "0", "--models-dir", _folder,
                     "--options-file", Path.Combine(_folder, "options.json") })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = await process.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(2, process.ExitCode);
            Assert.Equal("", await stdout);
            Assert.Single(stderr.TrimEnd().Split('\n'));
            Assert.Contains("--api-auth", stderr);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Listen_WithApiAuth_StartsAndAsksForTheCredentials()
    {
        await using var server = await RedraftServer.StartAsync(new ServerOptions
        {
            Port = 0,
            Listen = true,
            ApiAuth = ["alice:s3cret"],
            ModelsDir = _folder,
            Threads = 1,
        }, TextWriter.Null);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/") };
        using var anonymous = await client.GetAsync("/sdapi/v1/options");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        var request = new HttpRequestMessage(HttpMethod.Get, "/sdapi/v1/options");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:s3cret")));
        using var allowed = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }
}
