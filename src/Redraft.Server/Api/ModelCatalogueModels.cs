namespace Redraft.Server.Api;

/// <summary>A catalogue model as <c>GET /api/v1/models</c> lists it, installed or not (the canvas's model picker).</summary>
/// <param name="Name">The name to download it by (<c>POST /api/v1/models {name}</c>).</param>
/// <param name="Title">One line for the picker.</param>
/// <param name="Role">checkpoint, vae, lora, taesd or tokenizer.</param>
/// <param name="Family">Model family (<c>sd1</c>, <c>sd2</c>).</param>
/// <param name="Size">Its download size in bytes, when the catalogue knows it.</param>
/// <param name="Default">The model a first run downloads.</param>
/// <param name="Installed">On disk: downloaded by Redraft or found in place.</param>
/// <param name="InstalledPath">Where, when installed.</param>
/// <param name="InstalledSize">Bytes on disk, when installed.</param>
/// <param name="Source">redraft, models-folder, huggingface-cache or a1111, when installed.</param>
/// <param name="Licence">The licence's name.</param>
/// <param name="LicenceUrl">Where to read it.</param>
/// <param name="LicenceToAccept">True when the licence must be accepted before download (send <c>accept_licence: true</c>).</param>
internal sealed record CatalogueModelItem(string Name, string Title, string Role, string Family, long? Size, bool Default, bool Installed,
    string? InstalledPath, long? InstalledSize, string? Source, string? Licence, string? LicenceUrl, bool LicenceToAccept);

/// <summary>The body of <c>POST /api/v1/models</c>.</summary>
/// <param name="Name">The catalogue name.</param>
/// <param name="AcceptLicence">Accepts the model's licence (needed once for a licence that asks).</param>
internal sealed record ModelDownloadRequest(string Name, bool? AcceptLicence);

/// <summary>The answer of <c>POST /api/v1/models</c> (202).</summary>
/// <param name="Id">The download's id.</param>
/// <param name="StatusUrl">Where its progress is read.</param>
/// <param name="State">queued or running (running already when the same model was asked for before).</param>
internal sealed record ModelDownloadAccepted(string Id, string StatusUrl, string State);
