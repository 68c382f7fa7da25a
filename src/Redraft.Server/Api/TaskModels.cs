namespace Redraft.Server.Api;

// The shapes of the task routes (TaskEndpoints writes them), for /openapi.json and /docs. A1111's
// /internal/progress and /internal/pending-tasks models are its modules/progress.py ones; /api/v1/jobs is
// Redraft's own. The contract test checks the A1111 ones against the fixture.

/// <summary><c>POST /internal/progress</c>'s request (A1111's web-UI progress route, polled with a <c>force_task_id</c>).</summary>
/// <param name="IdTask">The task id the generation request was sent with.</param>
/// <param name="IdLivePreview">The id of the last preview received; the same preview is not sent again.</param>
/// <param name="LivePreview">Whether to send a preview at all.</param>
internal sealed record InternalProgressRequest(string? IdTask, int IdLivePreview = -1, bool LivePreview = true);

/// <summary><c>POST /internal/progress</c>'s answer: where the task is, and a preview as a data URL.</summary>
internal sealed record InternalProgressResponse(bool Active, bool Queued, bool Completed, double? Progress, double? Eta,
    string? LivePreview, int? IdLivePreview, string? Textinfo);

/// <summary><c>GET /internal/pending-tasks</c>: the ids of the queued tasks.</summary>
internal sealed record PendingTasksResponse(int Size, IReadOnlyList<string> Tasks);

/// <summary>A job of Redraft's jobs API.</summary>
/// <param name="Id">Its task id.</param>
/// <param name="Kind"><c>txt2img</c>, <c>img2img</c>, or a document job's <c>doc-generate</c>, <c>doc-harmonize</c>, <c>doc-rerun</c>.</param>
/// <param name="Number">Accept order (A1111's <c>job_no</c> across jobs).</param>
/// <param name="Status">queued, running, completed, cancelled or failed.</param>
/// <param name="Position">Place in the queue (1 = next), 0 when not queued.</param>
/// <param name="Progress">0 to 1.</param>
/// <param name="Iteration">The sampling run (batch count) in progress.</param>
/// <param name="Iterations">Sampling runs in the job.</param>
/// <param name="Step">Sampler step of the run.</param>
/// <param name="Steps">Sampler steps per run.</param>
/// <param name="Elapsed">Seconds since it started.</param>
/// <param name="Started">Start time (ISO 8601), null while queued.</param>
/// <param name="Ended">End time, null until it ends.</param>
/// <param name="Prompt">Its prompt.</param>
/// <param name="Seed">Its seed (drawn when the job was accepted).</param>
/// <param name="Document">The document of a document job (<c>doc-generate</c>, <c>doc-harmonize</c>, <c>doc-rerun</c>), else null.</param>
/// <param name="OperationId">The client's operation id of a document job, else null.</param>
internal sealed record JobView(string Id, string Kind, long Number, string Status, int Position, double Progress, int Iteration,
    int Iterations, int Step, int Steps, double Elapsed, string? Started, string? Ended, string Prompt, long Seed, string? Document, string? OperationId);

/// <summary><c>GET /api/v1/jobs</c>: the running job and the queue in order.</summary>
internal sealed record JobsResponse(JobView? Running, IReadOnlyList<JobView> Queued);

/// <summary><c>DELETE /api/v1/jobs/{id}</c>'s answer.</summary>
internal sealed record JobCancelled(string Id, bool Cancelled);
