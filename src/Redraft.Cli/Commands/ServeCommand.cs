using System.CommandLine;
using Redraft.Server;
using Redraft.Studio.Generation;
using S = Redraft.Studio.Generation.GenerationSettings;

namespace Redraft.Cli.Commands;

/// <summary>
/// <c>redraft serve</c>: the AUTOMATIC1111-compatible HTTP API (<see cref="RedraftServer"/>). Option parsing only;
/// Ctrl-C and SIGTERM cancel the command's token, which stops the server and cancels its jobs.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        static Option<T> Engine<T>(string property, Func<T>? defaultValue = null)
        {
            var option = new Option<T>(GenerationParameters.Cli(property)) { Description = GenerationParameters.Of(property).Description };
            if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue();
            return option;
        }
        var port = new Option<int>("--port") { Description = "TCP port (0 = any free port)", DefaultValueFactory = _ => 7860 };
        var listen = new Option<bool>("--listen") { Description = "Listen on all interfaces (0.0.0.0) instead of 127.0.0.1 only; needs --api-auth" };
        var auth = new Option<string[]>("--api-auth") { Description = "HTTP Basic credentials user:password[,user:password]; without it anyone who reaches the port may generate" };
        var origins = new Option<string?>("--cors-allow-origins") { Description = "Browser origins allowed to call the API, comma-separated (e.g. http://localhost:3456 for openOutpaint)" };
        var originsRegex = new Option<string?>("--cors-allow-origins-regex") { Description = "Regular expression of allowed browser origins (matched whole)" };
        var modelsDir = new Option<string?>("--models-dir") { Description = "Checkpoints folder (LoRAs in its Lora/, VAEs in its VAE/); default: $REDRAFT_HOME/models" };
        var model = new Option<string?>("--model") { Description = "Checkpoint loaded at start and used when a request names none: a path or a name in --models-dir (default: the one a client chose last with POST /sdapi/v1/options, else the first there)" };
        var a1111Dir = new Option<string?>("--a1111-dir") { Description = "An AUTOMATIC1111 folder whose models/Stable-diffusion, models/VAE and models/Lora are offered too, used in place (default: $REDRAFT_A1111_DIR)" };
        var documentsDir = new Option<string?>("--documents-dir") { Description = "Folder of the studio documents the documents API (/api/v1/documents) serves, the folders redraft doc opens; default: $REDRAFT_HOME/documents" };
        var stylesFile = new Option<string?>("--styles-file") { Description = "AUTOMATIC1111 styles.csv (name,prompt,negative_prompt) for prompt-styles and a request's styles; default: $REDRAFT_HOME/styles.csv (none when missing)" };
        var maxBody = new Option<int>("--max-body-mb") { Description = "Largest request body in MB", DefaultValueFactory = _ => 64 };
        var maxPixels = new Option<string>("--max-pixels") { Description = "Most pixels per image (width x height, any shape): a count, or a size WxH", DefaultValueFactory = _ => "2048x2048" };
        var maxImages = new Option<int>("--max-images") { Description = "Most images per request (batch_size x n_iter)", DefaultValueFactory = _ => 16 };
        var maxSteps = new Option<int>("--max-steps") { Description = "Most sampling steps per request", DefaultValueFactory = _ => 150 };
        var broker = new Option<string?>("--broker") { Description = "A RabbitMQ broker (amqp://user:password@host:5672/vhost, amqps:// for TLS): jobs go to the redraft worker processes taking from it instead of running here" };
        var brokerMaxMessage = new Option<double>("--broker-max-message-mb") { Description = "With --broker: largest job message in MB (init image and mask included); larger jobs are refused with 413", DefaultValueFactory = _ => Redraft.Broker.BrokerTopology.MaxMessageBytes / 1048576.0 };
        var optionsFile = new Option<string?>("--options-file") { Description = "Where the options clients set (POST /sdapi/v1/options) are kept across restarts; default: $REDRAFT_HOME/server-options.json" };
        var threads = Engine<int?>(nameof(S.Threads));
        var dtype = Engine(nameof(S.DType), () => "auto");
        var vaeDtype = Engine(nameof(S.VaeDType), () => "fp32");
        var lowMemory = Engine<bool>(nameof(S.LowMemory));
        var tokenizer = Engine<string?>(nameof(S.Tokenizer));
        var taesd = Engine<string?>(nameof(S.Taesd));
        auth.AllowMultipleArgumentsPerToken = false;
        var command = new Command("serve", "Serve AUTOMATIC1111's HTTP API (/sdapi/v1) so A1111 clients and plugins drive Redraft.")
        {
            port, listen, auth, origins, originsRegex, modelsDir, a1111Dir, model, documentsDir, stylesFile, maxBody, maxPixels, maxImages, maxSteps, optionsFile,
            broker, brokerMaxMessage, threads, dtype, vaeDtype, lowMemory, tokenizer, taesd,
        };
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(maxBody) is < 1 or > 4096)
                throw new RedraftInputException($"--max-body-mb must be between 1 and 4096, got {parse.GetValue(maxBody)}.");
            var options = new ServerOptions
            {
                Port = parse.GetValue(port),
                Listen = parse.GetValue(listen),
                ApiAuth = parse.GetValue(auth) ?? [],
                CorsAllowOrigins = (parse.GetValue(origins) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                CorsAllowOriginsRegex = parse.GetValue(originsRegex),
                ModelsDir = parse.GetValue(modelsDir) ?? RedraftHome.Current.Models,
                Model = parse.GetValue(model),
                A1111Dir = parse.GetValue(a1111Dir) ?? (Environment.GetEnvironmentVariable(Redraft.Models.ModelPlaces.A1111Variable) is { Length: > 0 } a1111 ? a1111 : null),
                DocumentsDir = parse.GetValue(documentsDir) ?? RedraftHome.Current.Documents,
                StylesFile = parse.GetValue(stylesFile) ?? Path.Combine(RedraftHome.Current.Root, "styles.csv"),
                MaxBodyBytes = parse.GetValue(maxBody) * 1024L * 1024,
                MaxPixels = ServerOptions.ParsePixels(parse.GetValue(maxPixels)!),
                MaxImages = parse.GetValue(maxImages),
                MaxSteps = parse.GetValue(maxSteps),
                OptionsFile = parse.GetValue(optionsFile) ?? RedraftHome.Current.ServerOptionsFile,
                Broker = parse.GetValue(broker) is { } b ? Redraft.Broker.BrokerAddress.Parse(b) : null,
                BrokerMaxMessageBytes = (int)Math.Min(int.MaxValue, parse.GetValue(brokerMaxMessage) * 1048576),
                Threads = parse.GetValue(threads),
                DType = parse.GetValue(dtype)!,
                VaeDType = parse.GetValue(vaeDtype)!,
                LowMemory = parse.GetValue(lowMemory),
                Tokenizer = parse.GetValue(tokenizer),
                Taesd = parse.GetValue(taesd),
            };
            await RedraftServer.RunAsync(options, Console.Out, Console.Error, ct);
            return ExitCodes.Success;
        });
        return command;
    }
}
