using System.Text.Json.Nodes;

namespace Redraft.Server.Tests;

/// <summary>
/// A server of a test's own (other limits, another models folder, an options file), started through
/// <see cref="RedraftServer.StartAsync"/> on 127.0.0.1 with a free port and stopped when disposed.
/// </summary>
internal sealed class OwnServer : IAsyncDisposable
{
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromMinutes(5) };

    private OwnServer(RunningServer server)
    {
        Server = server;
        _client.BaseAddress = server.Url;
    }

    public RunningServer Server { get; }

    public static async Task<OwnServer> Start(ServerOptions options) => new(await RedraftServer.StartAsync(options with { Port = 0 }, TextWriter.Null));

    /// <summary>Posts <paramref name="body"/> (JSON text) and returns status and parsed JSON.</summary>
    public async Task<(int Status, JsonNode? Json)> Post(string path, string body)
    {
        using var response = await _client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public async Task<(int Status, JsonNode? Json)> Get(string path)
    {
        using var response = await _client.GetAsync(path);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public async Task<(int Status, JsonNode? Json)> Delete(string path)
    {
        using var response = await _client.DeleteAsync(path);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _client.Dispose();
    }
}
