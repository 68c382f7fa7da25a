using System.CommandLine;
using System.Runtime.InteropServices;
using Redraft.Broker;
using Redraft.Studio.Generation;
using S = Redraft.Studio.Generation.GenerationSettings;

namespace Redraft.Cli.Commands;

/// <summary>
/// <c>redraft worker --broker amqp://…</c>: takes generation jobs from a RabbitMQ broker (<see cref="GenerationWorker"/>).
/// Signals are its own (the command line's 10-second limit would cut a long job): the first SIGTERM or Ctrl-C stops
/// taking jobs and lets the running one finish; a second one stops that job too and returns it to its queue.
/// </summary>
internal static class WorkerCommand
{
    /// <summary>The command's name (the runner leaves its signals to it).</summary>
    public const string Name = "worker";

    public static Command Create()
    {
        var broker = new Option<string>("--broker") { Description = "The RabbitMQ broker: amqp://user:password@host:5672/vhost (amqps:// for TLS)", Required = true };
        var name = new Option<string?>("--name") { Description = "This worker's name in the fleet (GET /api/v1/workers); default: host-pid" };
        var model = new Option<string[]>("--model") { Description = "A checkpoint file outside --models-dir to serve too (repeatable)" };
        var pull = new Option<string[]>("--pull") { Description = "A catalogue model to download (SHA-256 checked) before taking jobs, if not installed; repeatable (redraft models list names them)" };
        var modelOptions = new ModelOptions();
        var threads = new Option<int?>(GenerationParameters.Cli(nameof(S.Threads))) { Description = "CPU threads of every generation (default: each job's, as the server resolved it; the images are the same)" };
        var tokenizer = new Option<string?>(GenerationParameters.Cli(nameof(S.Tokenizer))) { Description = GenerationParameters.Of(nameof(S.Tokenizer)).Description };
        var taesd = new Option<string?>(GenerationParameters.Cli(nameof(S.Taesd))) { Description = GenerationParameters.Of(nameof(S.Taesd)).Description };
        var command = new Command(Name, "Take generation jobs from a RabbitMQ broker that redraft serve --broker publishes to.")
        {
            broker, name, model, pull, threads, tokenizer, taesd,
        };
        // --models-dir (checkpoints it serves; LoRAs in Lora/, VAEs in VAE/), --a1111-dir, --offline, --accept-licence.
        modelOptions.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var address = BrokerAddress.Parse(parse.GetValue(broker)!);
            var library = modelOptions.Library(parse);
            foreach (string wanted in parse.GetValue(pull) ?? [])
            {
                var entry = library.Catalogue.Find(wanted)
                    ?? throw new RedraftInputException($"--pull: no catalogue model is named \"{wanted}\"; redraft models list names them.");
                if (entry.Role != Redraft.Models.ModelRole.Checkpoint)
                    throw new RedraftInputException($"--pull: {entry.Name} is a {entry.Role.ToString().ToLowerInvariant()}, not a checkpoint a worker serves.");
                await ModelOptions.EnsureAsync(library, entry, parse.GetValue(modelOptions.AcceptLicence), "redraft worker", ct);
            }
            // Checkpoints found in place (the Hugging Face cache, an A1111 folder) are served too, never copied.
            var inPlace = library.Installed()
                .Where(m => m.Role == Redraft.Models.ModelRole.Checkpoint && m.Source is Redraft.Models.ModelSource.HuggingFaceCache or Redraft.Models.ModelSource.A1111)
                .Select(m => m.Path);
            var options = new WorkerOptions
            {
                Broker = address,
                Name = parse.GetValue(name) is { Length: > 0 } n ? n : $"{Environment.MachineName}-{Environment.ProcessId}",
                ModelsDir = library.Places.ModelsDir,
                ExtraCheckpoints = [.. (parse.GetValue(model) ?? []).Concat(inPlace)],
                Threads = parse.GetValue(threads),
                Tokenizer = parse.GetValue(tokenizer),
                Taesd = parse.GetValue(taesd),
            };
            if (options.Threads is < 1 or > 1024) throw new RedraftInputException($"--threads must be between 1 and 1024, got {options.Threads}.");
            await using var worker = new GenerationWorker(options, Console.Error);
            using var hard = CancellationTokenSource.CreateLinkedTokenSource(ct);
            int signals = 0;
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true;
                if (Interlocked.Increment(ref signals) == 1)
                {
                    Console.Error.WriteLine("redraft worker: stopping: no new jobs; the running one finishes (signal again to return it to the queue).");
                    worker.StopTaking();
                }
                else hard.Cancel();
            }
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            await worker.RunAsync(models =>
            {
                Console.Out.WriteLine($"redraft worker {options.Name}: taking jobs from {options.Broker} for {string.Join(", ", models.Select(m => m.Name))}.");
                Console.Out.Flush();
            }, hard.Token);
            Console.Error.WriteLine($"redraft worker: stopped after {worker.JobsDone} job(s).");
            return ExitCodes.Success;
        });
        return command;
    }
}
