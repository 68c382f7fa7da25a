using System.Runtime.ExceptionServices;

namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// One network of a model that can be loaded on first use and released after it (<c>--low-memory</c>): the
/// checkpoint stays on disk and is reopened, so a release costs a reload of that component only.
/// </summary>
internal sealed class ComponentSlot<T>(Func<T> load) where T : class, IDisposable
{
    private readonly object _gate = new();
    private T? _value;

    /// <summary>Runs on the loading thread right after each load (LoRAs merged into a low-memory network).</summary>
    public Action<T>? AfterLoad { get; set; }

    /// <summary>The component, loaded now if it is not in memory.</summary>
    public T Value
    {
        get
        {
            lock (_gate) return _value ??= LoadOutsideDisposeScopes();
        }
    }

    /// <summary>
    /// Loads on a thread of its own: TorchSharp's dispose scopes are per thread, and a component first used inside a
    /// generation's scope must not have its weights' wrappers tracked, and freed, by that scope. (A pool task would
    /// not do: waiting on a task that has not started may run it inline on the waiting thread.)
    /// </summary>
    private T LoadOutsideDisposeScopes()
    {
        T? value = null;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                value = load();
                try
                {
                    AfterLoad?.Invoke(value);
                }
                catch
                {
                    value.Dispose();
                    throw;
                }
            }
            catch (Exception ex) { error = ExceptionDispatchInfo.Capture(ex); }
        }) { Name = "redraft component load" };
        thread.Start();
        thread.Join();
        error?.Throw();
        return value!;
    }

    /// <summary>Whether the component is in memory.</summary>
    public bool IsLoaded
    {
        get
        {
            lock (_gate) return _value is not null;
        }
    }

    /// <summary>Frees the component's weights; the next <see cref="Value"/> loads it again.</summary>
    public void Release()
    {
        lock (_gate)
        {
            _value?.Dispose();
            _value = null;
        }
    }
}
