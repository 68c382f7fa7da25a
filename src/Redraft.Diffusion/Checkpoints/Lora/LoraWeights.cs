using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>One module of a LoRA to write: the layer it changes and its low-rank factors.</summary>
/// <param name="LdmKey">
/// The changed weight's full LDM key (<c>model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight</c>
/// or <c>cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight</c>).
/// </param>
/// <param name="Down">(rank, in) or (rank, in, kh, kw).</param>
/// <param name="Up">(out, rank) or (out, rank, 1, 1).</param>
/// <param name="Alpha">Stored alpha (scale = alpha / rank), or null to store none (scale 1).</param>
internal sealed record LoraWeights(string LdmKey, Tensor Down, Tensor Up, double? Alpha);
