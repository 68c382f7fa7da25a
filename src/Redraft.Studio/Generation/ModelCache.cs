using Redraft.Diffusion;
using Redraft.Diffusion.Pipelines;

namespace Redraft.Studio.Generation;

/// <summary>
/// Keeps the last loaded model so that a session of steps on the same checkpoint (an artist's loop, an API server)
/// loads it once. Asking for other options unloads the previous model first: two SD models rarely fit in memory.
/// </summary>
public sealed class ModelCache : IDisposable
{
    private readonly object _gate = new();
    private ModelLoadOptions? _options;
    private StableDiffusionModel? _model;
    private bool _disposed;

    /// <summary>The model for <paramref name="options"/>, loading it if the cached one was loaded with other options.</summary>
    /// <remarks>The model stays owned by the cache; do not dispose it. Not for concurrent generations on one model.</remarks>
    public StableDiffusionModel Get(ModelLoadOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // A model loaded with the preview decoder also serves requests without previews.
            if (_model is not null && _options is not null
                && (options == _options || (options with { LoadPreviewDecoder = true }) == _options)) return _model;
            _model?.Dispose();
            _model = null;
            _options = null;
            _model = StableDiffusionModel.Load(options, ct);
            _options = options;
            return _model;
        }
    }

    /// <summary>Unloads the cached model.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _model?.Dispose();
            _model = null;
            _options = null;
            _disposed = true;
        }
    }
}
