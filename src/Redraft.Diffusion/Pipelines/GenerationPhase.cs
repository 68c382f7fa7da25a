namespace Redraft.Diffusion.Pipelines;

/// <summary>What a generation is doing, in the order a request goes through it.</summary>
public enum GenerationPhase
{
    /// <summary>Waiting for the generator (a server's queue).</summary>
    Queued,
    /// <summary>Loading or switching the model, applying LoRAs.</summary>
    Loading,
    /// <summary>Encoding the prompts.</summary>
    Text,
    /// <summary>Encoding the init image with the VAE.</summary>
    Encode,
    /// <summary>Running the sampler; progress counts its steps.</summary>
    Sampling,
    /// <summary>Decoding the latents to pixels.</summary>
    Decode,
    /// <summary>Finished.</summary>
    Done,
}
