using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Models;

namespace Redraft.Server.Api;

/// <summary>
/// Redraft's models API: <c>GET /api/v1/models</c> lists the catalogue with what is installed,
/// <c>POST /api/v1/models {name}</c> downloads a catalogue model as a job of the download queue
/// (<see cref="Jobs.ModelDownloads"/>, never the generation queue) and answers 202 with its id at once,
/// <c>GET /api/v1/models/downloads/{id}</c> reports its progress and <c>DELETE</c> on it cancels it (the <c>.part</c>
/// file stays, and the next download of the model resumes it). A downloaded checkpoint, VAE or LoRA is in the
/// A1111 lists (<c>sd-models</c>, <c>sd-vae</c>, <c>loras</c>) as soon as it is in place.
/// </summary>
internal static class ModelEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapGet("/api/v1/models", () =>
        {
            var library = context.Library;
            var installed = library.Installed();
            return ApiJson.Ok(library.Catalogue.Entries.Select(e =>
            {
                var have = installed.FirstOrDefault(m => m.CatalogueName == e.Name);
                return new CatalogueModelItem(e.Name, e.Title, RoleName(e.Role), e.Family, e.Size, e == library.Catalogue.Default, have is not null,
                    have?.Path, have?.Size, have is null ? null : SourceName(have.Source), e.Licence?.Name, e.Licence?.Url, !library.LicenceAccepted(e));
            }).ToList());
        });
        app.MapPost("/api/v1/models", (Delegate)(async (HttpContext http) =>
        {
            var body = await RequestBody.ReadObject(http);
            string name = body["name"] is JsonValue v && v.TryGetValue(out string? s) && s.Trim().Length > 0 ? s.Trim()
                : throw ApiException.Unprocessable("name: the catalogue name of the model to download is required; GET /api/v1/models lists them.");
            bool accept = body["accept_licence"] is JsonValue a && a.TryGetValue(out bool b) && b;
            var entry = context.Library.Catalogue.Find(name)
                ?? throw new ApiException(StatusCodes.Status404NotFound, $"no catalogue model is named \"{name}\"; GET /api/v1/models lists them.", "NotFound");
            if (!accept && !context.Library.LicenceAccepted(entry))
                throw ApiException.Unprocessable($"{entry.Name} is under the {entry.Licence!.Name} ({entry.Licence.Url}), which must be accepted before download: read it, then send accept_licence: true.");
            if (context.Library.Offline && context.Library.FindInstalled(entry) is null)
                throw ApiException.Unprocessable($"{entry.Name} is not installed and the server is offline (HF_HUB_OFFLINE): restart it with network access to download it.");
            var download = context.Downloads.Start(entry, accept);
            return Results.Json(new ModelDownloadAccepted(download.Id, StatusUrl(download.Id), download.State), ApiJson.Options,
                statusCode: StatusCodes.Status202Accepted);
        }));
        app.MapGet("/api/v1/models/downloads/{id}", (string id) =>
            context.Downloads.Find(id) is { } download ? ApiJson.Ok(download)
                : throw NoDownload(id));
        app.MapDelete("/api/v1/models/downloads/{id}", (string id) =>
            context.Downloads.Cancel(id) is { } download ? ApiJson.Ok(download) : throw NoDownload(id));
    }

    private static ApiException NoDownload(string id) =>
        new(StatusCodes.Status404NotFound, $"no download has id \"{id}\"; POST /api/v1/models starts one (downloads are kept until the server stops).", "NotFound");

    /// <summary>Where a download's progress is read.</summary>
    public static string StatusUrl(string id) => $"/api/v1/models/downloads/{Uri.EscapeDataString(id)}";

    private static string RoleName(ModelRole role) => role.ToString().ToLowerInvariant();

    private static string SourceName(ModelSource source) => source switch
    {
        ModelSource.Redraft => "redraft",
        ModelSource.ModelsFolder => "models-folder",
        ModelSource.HuggingFaceCache => "huggingface-cache",
        _ => "a1111",
    };
}
