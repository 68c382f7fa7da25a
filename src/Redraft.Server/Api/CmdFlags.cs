namespace Redraft.Server.Api;

/// <summary>
/// What <c>GET /sdapi/v1/cmd-flags</c> answers: the A1111 v1.10 command-line flags that mean something for this
/// server, named and typed as A1111 answers them (a flag whose A1111 default is None is a string there, so
/// <c>port</c> is <c>"7860"</c>). A1111 answers every flag, its <c>--api-auth</c> credentials included; this never
/// does.
/// </summary>
/// <param name="Api">Always true: the API is what the server is.</param>
/// <param name="Nowebui">Always true: there is no Gradio UI.</param>
/// <param name="Port">The port it listens on, as text.</param>
/// <param name="Listen">Listening on every interface.</param>
/// <param name="ModelsDir">The models folder.</param>
/// <param name="CkptDir">Where checkpoints are: the models folder.</param>
/// <param name="LoraDir">Its <c>Lora</c> sub-folder.</param>
/// <param name="VaeDir">Its <c>VAE</c> sub-folder.</param>
/// <param name="CorsAllowOrigins">The allowed browser origins, comma-separated, or null.</param>
/// <param name="CorsAllowOriginsRegex">The allowed-origin expression, or null.</param>
/// <param name="UseCpu">A1111's <c>--use-cpu</c>: every network runs on the CPU (<c>["all"]</c>).</param>
/// <param name="Lowram">Redraft's <c>--low-memory</c>.</param>
/// <param name="StylesFile">The styles file (<c>--styles-file</c>), a list as A1111's (which takes several).</param>
internal sealed record CmdFlags(bool Api, bool Nowebui, string? Port, bool Listen, string? ModelsDir, string? CkptDir,
    string LoraDir, string? VaeDir, string? CorsAllowOrigins, string? CorsAllowOriginsRegex, bool Lowram, IReadOnlyList<string> UseCpu,
    IReadOnlyList<string> StylesFile)
{
    /// <summary>The flags of a server started with <paramref name="options"/> on <paramref name="port"/>, whose styles file is <paramref name="stylesFile"/>.</summary>
    public static CmdFlags Of(ServerOptions options, ModelFolder models, int port, string? stylesFile) => new(
        Api: true,
        Nowebui: true,
        Port: port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Listen: options.Listen,
        ModelsDir: models.Root,
        CkptDir: models.Root,
        LoraDir: Path.Combine(models.Root, "Lora"),
        VaeDir: Path.Combine(models.Root, "VAE"),
        CorsAllowOrigins: options.CorsAllowOrigins.Count == 0 ? null : string.Join(',', options.CorsAllowOrigins),
        CorsAllowOriginsRegex: options.CorsAllowOriginsRegex,
        Lowram: options.LowMemory,
        UseCpu: ["all"],
        StylesFile: stylesFile is null ? [] : [stylesFile]);
}
