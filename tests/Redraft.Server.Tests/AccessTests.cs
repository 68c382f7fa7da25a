using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Redraft.Server.Tests;

/// <summary>
/// Authentication, CORS and the body limit on a server of their own (no model needed), and <c>redraft serve</c> as
/// a real process: it prints its URL, answers, and stops cleanly on SIGTERM.
/// </summary>
public sealed class AccessTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("redraft-server-access-").FullName;
    private RunningServer? _server;
    private readonly HttpClient _client = new();

    public async Task InitializeAsync()
    {
        _server = await RedraftServer.StartAsync(new ServerOptions
        {
            Port = 0,
            ModelsDir = _folder,
            ApiAuth = ["alice:s3cret,bob:hunter2"],
            CorsAllowOrigins = ["http://localhost:3456"],
            CorsAllowOriginsRegex = @"https://.*\.example\.org",
            MaxBodyBytes = 64 * 1024,
            Threads = 1,
        }, TextWriter.Null);
        _client.BaseAddress = _server.Url;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _client.Dispose();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    private static AuthenticationHeaderValue Basic(string credentials) => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));

    private async Task<HttpResponseMessage> Options(string? credentials)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/sdapi/v1/options");
        if (credentials is not null) request.Headers.Authorization = Basic(credentials);
        return await _client.SendAsync(request);
    }

    [Fact]
    public async Task Auth_WithoutOrWrongCredentials_401_RightOnes_200()
    {
        using var none = await Options(null);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Basic", none.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Contains("Not authenticated", await none.Content.ReadAsStringAsync());
        using var wrong = await Options("alice:hunter2");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("Incorrect username or password", await wrong.Content.ReadAsStringAsync());
        using var prefix = await Options("alice:s3cre");
        Assert.Equal(HttpStatusCode.Unauthorized, prefix.StatusCode);
        using var right = await Options("bob:hunter2");
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        using var ping = await _client.GetAsync("/internal/ping");
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
    }

    /// <summary>Preflights for POST, and for a GET that carries a Content-Type (StabilityMatrix sends one with <c>progress</c>).</summary>
    [Theory]
    [InlineData("http://localhost:3456", true, "POST", "/sdapi/v1/txt2img")]
    [InlineData("https://canvas.example.org", true, "POST", "/sdapi/v1/txt2img")]
    [InlineData("https://example.org.evil.com", false, "POST", "/sdapi/v1/txt2img")]
    [InlineData("http://evil.example", false, "POST", "/sdapi/v1/txt2img")]
    [InlineData("http://localhost:3456", true, "GET", "/sdapi/v1/progress")]
    [InlineData("http://evil.example", false, "GET", "/sdapi/v1/progress")]
    public async Task CorsPreflight_EchoesOnlyAllowedOrigins(string origin, bool allowed, string method, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", "content-type,authorization");
        using var response = await _client.SendAsync(request);
        Assert.True(response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.OK, response.StatusCode.ToString());
        bool echoed = response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) && values.Single() == origin;
        Assert.Equal(allowed, echoed);
        if (allowed)
        {
            Assert.Contains(method, response.Headers.GetValues("Access-Control-Allow-Methods").Single());
            Assert.Contains("content-type", response.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task BodyOverTheLimit_Is413InA1111Shape()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/sdapi/v1/img2img")
        {
            Content = new StringContent($$"""{"init_images": ["{{new string('A', 100 * 1024)}}"]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = Basic("alice:s3cret");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("too large", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task NoModel_GenerationIs422SayingHowToGiveOne()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/sdapi/v1/txt2img") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Authorization = Basic("alice:s3cret");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("--model", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ServeProcess_PrintsItsUrl_Answers_AndStopsOnSigterm()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "redraft.dll"), "serve", "--port", "0", "--models-dir", _folder, "--threads", "1" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        try
        {
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            var url = System.Text.RegularExpressions.Regex.Match(line ?? "", @"listening on (http://127\.0\.0\.1:\d+/)");
            Assert.True(url.Success, line);
            using var client = new HttpClient { BaseAddress = new Uri(url.Groups[1].Value) };
            Assert.Equal("{}", await client.GetStringAsync("/internal/ping"));
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])!;
            kill.WaitForExit();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(exit.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
