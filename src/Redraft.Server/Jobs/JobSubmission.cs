using Redraft.Studio.Generation;

namespace Redraft.Server.Jobs;

/// <summary>What a client asks the queue to run.</summary>
/// <param name="Kind">What made it, e.g. <c>txt2img</c> or <c>img2img</c>: task ids and A1111's <c>state.job</c> name it.</param>
/// <param name="Settings">The generation, already resolved (<see cref="GenerationService.Resolve"/>): seeds drawn, every value fixed.</param>
/// <param name="Inputs">Init image and mask, or null.</param>
/// <param name="Id">The client's own task id (A1111's <c>force_task_id</c>), or null for a new one.</param>
/// <param name="Client">Who asked (for listings; later for fair share between clients).</param>
public sealed record JobSubmission(string Kind, GenerationSettings Settings, GenerationInputs? Inputs = null, string? Id = null, string Client = "");
