using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// A text tower as the pipeline sees it: token rows in, conditioning hidden states out, whichever layer and
/// naming the model family uses. Implementations are <see cref="TorchSharp.torch.nn.Module"/>s.
/// </summary>
internal interface ITextEncoder : IDisposable
{
    /// <summary>Token ids (B, 77) → the hidden states the UNet is conditioned on (B, 77, <see cref="Width"/>).</summary>
    Tensor Encode(Tensor ids);

    /// <summary>Width of the hidden states (the UNet's context dimension).</summary>
    int Width { get; }

    /// <summary>The sizes the tower was built from.</summary>
    TextEncoderConfig Config { get; }
}
