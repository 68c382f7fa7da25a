using System.Collections.Concurrent;

namespace Redraft.Studio.Generation;

/// <summary>
/// The one thread every generation of the process runs on. libtorch's thread count is a per-thread setting (OpenMP's),
/// and glibc gives each thread that allocates its own arena: on one long-lived thread the thread count set for a
/// request holds for the next, the allocator policy covers every generation, and no request thread (the server's)
/// ever runs model code.
/// </summary>
internal static class GenerationThread
{
    private static readonly BlockingCollection<Action> Work = [];
    private static readonly Lazy<Thread> Worker = new(() =>
    {
        var thread = new Thread(() =>
        {
            foreach (var work in Work.GetConsumingEnumerable()) work();
        })
        { Name = "redraft generation", IsBackground = true };
        thread.Start();
        return thread;
    });

    /// <summary>Runs <paramref name="work"/> on the generation thread, after the work queued before it.</summary>
    public static Task<T> Run<T>(Func<T> work, CancellationToken ct)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Worker.Value;
        // The caller's execution context (its AsyncLocal values, e.g. a test's sampler hook) goes with the work.
        var context = ExecutionContext.Capture();
        Work.Add(() => ExecutionContext.Run(context!, _ => RunOne(), null));
        return done.Task;

        void RunOne()
        {
            if (ct.IsCancellationRequested)
            {
                done.TrySetCanceled(ct);
                return;
            }
            try
            {
                done.TrySetResult(work());
            }
            catch (OperationCanceledException ex)
            {
                done.TrySetCanceled(ex.CancellationToken);
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        }
    }
}
