namespace Redraft.Diffusion.Checkpoints;

/// <summary>Tensor namings of LoRA files that <see cref="LoraWriter"/> writes (all of them are read).</summary>
internal enum LoraNaming
{
    /// <summary>kohya-ss: <c>lora_unet_down_blocks_0_…_to_q.lora_down.weight</c> (diffusers path, flattened), <c>lora_te_…</c>, <c>.alpha</c>.</summary>
    Kohya,
    /// <summary>kohya-ss with the LDM path flattened: <c>lora_unet_input_blocks_1_1_…_to_q.lora_down.weight</c>.</summary>
    KohyaLdm,
    /// <summary>diffusers (before PEFT): <c>unet.…to_q.lora.down.weight</c>, <c>text_encoder.…q_proj.lora_linear_layer.down.weight</c>.</summary>
    Diffusers,
    /// <summary>PEFT as saved by diffusers: <c>unet.…to_q.lora_A.weight</c> / <c>lora_B.weight</c>, <c>text_encoder.…</c>.</summary>
    Peft,
}
