using Redraft.Studio.Generation;

namespace Redraft.Server.Jobs;

/// <summary>What a client asks the queue to run.</summary>
/// <param name="Kind">What made it, e.g. <c>txt2img</c> or <c>img2img</c>: task ids and A1111's <c>state.job</c> name it.</param>
/// <param name="Settings">The generation, already resolved (<see cref="GenerationService.Resolve"/>): seeds drawn, every value fixed.</param>
/// <param name="Inputs">Init image and mask, or null.</param>
/// <param name="Id">The client's own task id (A1111's <c>force_task_id</c>), or null for a new one.</param>
/// <param name="Client">Who asked (for listings; later for fair share between clients).</param>
/// <param name="Commit">
/// What to do with the output before the job ends (a document records its step): run once, by the queue, after the
/// generation and only if the job was not cancelled by then; what it returns is added to the job's <c>result</c> event.
/// Its exception fails the job.
/// </param>
/// <param name="Document">The document (its name in the documents API) a document job works on, else null: a document is not renamed while one of its jobs waits or runs.</param>
/// <param name="OperationId">The client's operation id of a document job, else null: a retry while the job waits or runs is answered with this job.</param>
/// <param name="Ahead">
/// Whether the job jumps the queue (a canvas's live job, which someone watches stroke by stroke): it is placed after
/// the queued jobs that jumped before it and ahead of every other queued job; it never stops the running job.
/// </param>
public sealed record JobSubmission(string Kind, GenerationSettings Settings, GenerationInputs? Inputs = null, string? Id = null, string Client = "",
    Func<GenerationOutput, System.Text.Json.Nodes.JsonObject>? Commit = null, string? Document = null, string? OperationId = null, bool Ahead = false);
