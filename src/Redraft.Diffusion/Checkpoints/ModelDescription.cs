using Redraft.Diffusion.Networks;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>What the noise network predicts.</summary>
public enum PredictionType { Epsilon, V }

/// <summary>
/// Everything needed to build a model's networks and its noise schedule: read from a YAML config in the original
/// format when one is given, otherwise detected from tensor shapes.
/// </summary>
public sealed record ModelDescription
{
    public required string Family { get; init; }
    public required UNetConfig UNet { get; init; }
    public required AutoencoderConfig Vae { get; init; }
    public required TextEncoderConfig Text { get; init; }
    public PredictionType Prediction { get; init; } = PredictionType.Epsilon;
    public double LinearStart { get; init; } = 0.00085;
    public double LinearEnd { get; init; } = 0.012;
    public int TrainTimesteps { get; init; } = 1000;
    /// <summary>Padding token of the text tower's 77-token rows: EOS for OpenAI CLIP, 0 for OpenCLIP.</summary>
    public int PadToken { get; init; } = 49407;
}
