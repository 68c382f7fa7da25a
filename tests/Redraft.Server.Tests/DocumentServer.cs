using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Redraft.Studio;

namespace Redraft.Server.Tests;

/// <summary>
/// A server of the documents API tests' own: no model (these routes generate nothing), a documents folder in its
/// temp folder. Each test makes its own document (<see cref="NewDocument"/>); the folder is deleted at the end.
/// </summary>
public sealed class DocumentServer : IAsyncLifetime
{
    private RunningServer? _server;

    public string Folder { get; } = Directory.CreateTempSubdirectory("redraft-docapi-").FullName;
    public string DocumentsDir => Path.Combine(Folder, "documents");
    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromMinutes(2) };

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(Folder, "models"));
        Directory.CreateDirectory(DocumentsDir);
        _server = await RedraftServer.StartAsync(new ServerOptions { Port = 0, ModelsDir = Path.Combine(Folder, "models"), DocumentsDir = DocumentsDir, Threads = 1 },
            TextWriter.Null);
        Client.BaseAddress = _server.Url;
    }

    /// <summary>The server's endpoint table (the OpenAPI comparison).</summary>
    internal RunningServer Server => _server!;

    /// <summary>A new document through the API, with a unique name; returns the name.</summary>
    public async Task<string> NewDocument(int width = 64, int height = 48)
    {
        string name = "doc-" + Guid.NewGuid().ToString("N")[..10];
        var (status, json) = await Send(HttpMethod.Post, "/api/v1/documents", new JsonObject { ["name"] = name, ["width"] = width, ["height"] = height });
        Assert.True(status == 201, json?.ToJsonString());
        return name;
    }

    /// <summary>Opens the document's folder with the studio library (to add layers and candidates as doc add-layer and doc generate do).</summary>
    public DocumentStore Open(string name) => DocumentStore.Open(Path.Combine(DocumentsDir, name));

    public async Task<(int Status, JsonNode? Json)> Send(HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await Client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<(int Status, JsonNode? Json)> Get(string path) => Send(HttpMethod.Get, path);

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        Client.Dispose();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}
