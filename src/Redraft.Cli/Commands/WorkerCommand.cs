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
        var modelsDir = new Option<string?>("--models-dir") { Description = "Checkpoints it serves (LoRAs in Lora/, VAEs in VAE/); default: $REDRAFT_HOME/models" };
        var model = new Option<string[]>("--model") { Description = "A checkpoint file outside --models-dir to serve too (repeatable)" };
        var threads = new Option<int?>(GenerationParameters.Cli(nameof(S.Threads))) { Description = "CPU threads of every generation (default: each job's, as the server resolved it; the images are the same)" };
        var tokenizer = new Option<string?>(GenerationParameters.Cli(nameof(S.Tokenizer))) { Description = GenerationParameters.Of(nameof(S.Tokenizer)).Description };
        var taesd = new Option<string?>(GenerationParameters.Cli(nameof(S.Taesd))) { Description = GenerationParameters.Of(nameof(S.Taesd)).Description };
        var command = new Command(Name, "Take generation jobs from a RabbitMQ broker that redraft serve --broker publishes to.")
        {
            broker, name, modelsDir, model, threads, tokenizer, taesd,
        };
        command.SetAction(async (parse, ct) =>
        {
            var options = new WorkerOptions
            {
                Broker = BrokerAddress.Parse(parse.GetValue(broker)!),
                Name = parse.GetValue(name) is { Length: > 0 } n ? n : $"{Environment.MachineName}-{Environment.ProcessId}",
                ModelsDir = parse.GetValue(modelsDir) ?? RedraftHome.Current.Models,
                ExtraCheckpoints = parse.GetValue(model) ?? [],
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
