using System.Globalization;
using Redraft.Diffusion;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;

namespace Redraft.Studio.Generation;

/// <summary>
/// Keeps the last loaded model so that a session of steps on the same checkpoint (an artist's loop, an API server)
/// loads it once. Asking for other options unloads the previous model first: two SD models rarely fit in memory.
/// <para>
/// The cache also owns which LoRAs are merged into that model: <see cref="Get(ModelLoadOptions, IReadOnlyList{LoraSpec}, CancellationToken)"/>
/// returns the model with exactly the LoRAs asked for. The same list as the previous request (same files, unchanged
/// on disk, same weights) keeps its merge; any other list restores the exact base weights first. Merging is a
/// function of the base weights and the list, so a request's bytes never depend on the requests before it.
/// </para>
/// </summary>
public sealed class ModelCache : IDisposable
{
    private readonly object _gate = new();
    private ModelLoadOptions? _options;
    private StableDiffusionModel? _model;
    private LoadedModel? _loaded;
    private AppliedLoras? _loras;
    private string _lorasKey = "";
    private bool _disposed;

    /// <summary>The checkpoint in memory and the file version it was read from; null when none is loaded.</summary>
    public LoadedModel? Loaded
    {
        get
        {
            lock (_gate) return _loaded;
        }
    }

    /// <summary>How many times LoRAs were merged (tests see a repeated list reuse its merge).</summary>
    internal int LoraMerges { get; private set; }

    /// <summary>The model for <paramref name="options"/>, loading it if the cached one was loaded with other options.</summary>
    /// <remarks>The model stays owned by the cache; do not dispose it. Not for concurrent generations on one model.</remarks>
    public StableDiffusionModel Get(ModelLoadOptions options, CancellationToken ct = default) => Get(options, [], ct);

    /// <summary>
    /// The model for <paramref name="options"/> with exactly <paramref name="loras"/> merged (none: the checkpoint's own
    /// weights, bit for bit).
    /// </summary>
    /// <exception cref="RedraftInputException">A model or LoRA file is missing or does not fit; the model is left without LoRAs.</exception>
    public StableDiffusionModel Get(ModelLoadOptions options, IReadOnlyList<LoraSpec> loras, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loras);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            string key = LorasKey(loras);
            bool sameModel = _model is not null && _options is not null
                && (options == _options || (options with { LoadPreviewDecoder = true }) == _options);
            if (_loras is not null && (!sameModel || key != _lorasKey)) TakeOutLoras();
            // A model loaded with the preview decoder also serves requests without previews.
            if (!sameModel)
            {
                bool had = _model is not null;
                _model?.Dispose();
                _model = null;
                // The old model's memory back before the new one loads, or a switch holds both for a while.
                if (had) GiveMemoryBack();
                _options = null;
                _loaded = null;
                var stamp = LoadedModel.Stamp(options.ModelPath);
                _model = StableDiffusionModel.Load(options, ct);
                _options = options;
                _loaded = new LoadedModel(options.ModelPath, stamp);
            }
            if (_loras is null && loras.Count > 0)
            {
                _loras = AppliedLoras.Apply(_model!, loras);
                _lorasKey = key;
                LoraMerges++;
            }
            return _model!;
        }
    }

    /// <summary>
    /// Frees the cached model (and its merged LoRAs) and gives the freed memory back to the system; the next
    /// <see cref="Get(ModelLoadOptions, IReadOnlyList{LoraSpec}, CancellationToken)"/> loads again. Not while a
    /// generation uses the model (<see cref="GenerationService.UnloadAsync"/> waits for its turn).
    /// </summary>
    /// <returns>Whether a model was loaded.</returns>
    public bool Unload()
    {
        lock (_gate)
        {
            bool had = _model is not null;
            TakeOutLoras();
            _model?.Dispose();
            _model = null;
            _options = null;
            _loaded = null;
            if (had) GiveMemoryBack();
            return had;
        }
    }

    /// <summary>
    /// Disposing a model leaves part of its tensors to finalizers (measured on SD 1.5: 2.2 GB of 3.9 GB stayed
    /// resident until the next GC); they are collected now, and the allocator gives the freed memory to the system.
    /// </summary>
    private static void GiveMemoryBack()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        TorchRuntime.ReleaseFreedMemory();
    }

    /// <summary>Unloads the cached model.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            TakeOutLoras();
            _model?.Dispose();
            _model = null;
            _options = null;
            _loaded = null;
            _disposed = true;
        }
    }

    private void TakeOutLoras()
    {
        _loras?.Unmerge();
        _loras = null;
        _lorasKey = "";
    }

    /// <summary>The list as files on disk: a LoRA file rewritten in place is a different LoRA.</summary>
    private static string LorasKey(IReadOnlyList<LoraSpec> loras) => string.Join("\n", loras.Select(l =>
    {
        var file = new FileInfo(l.Path);
        string stamp = file.Exists ? $"{file.Length}:{file.LastWriteTimeUtc.Ticks}" : "missing";
        return $"{Path.GetFullPath(l.Path)}:{l.Weight.ToString("R", CultureInfo.InvariantCulture)}:{stamp}";
    }));
}
