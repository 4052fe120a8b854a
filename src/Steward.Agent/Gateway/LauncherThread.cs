using System.Collections.Concurrent;
using System.Diagnostics;

namespace Steward.Agent.Gateway;

/// <summary>
/// Starts the upstreams' processes from one thread that lives as long as the gateway. Linux ties a child's parent-death
/// signal (<c>PR_SET_PDEATHSIG</c>, which bubblewrap's <c>--die-with-parent</c> sets) to the thread that forked it, not
/// to the process: a sandboxed server started from a thread that later ends (a thread-pool thread retiring when idle, a
/// test runner's thread) would be killed with SIGKILL at that moment. From this thread, it dies only with the gateway.
/// </summary>
internal static class LauncherThread
{
    private static readonly BlockingCollection<(Process Process, TaskCompletionSource<bool> Started)> Requests = [];
    private static readonly Lazy<Thread> Thread = new(() =>
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "steward upstream launcher" };
        thread.Start();
        return thread;
    });

    /// <summary>Starts <paramref name="process"/> on the launcher thread; the result and any exception are <see cref="Process.Start()"/>'s.</summary>
    public static Task<bool> StartAsync(Process process)
    {
        _ = Thread.Value;
        var started = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((process, started));
        return started.Task;
    }

    private static void Run()
    {
        foreach (var (process, started) in Requests.GetConsumingEnumerable())
        {
            try
            {
                started.SetResult(process.Start());
            }
            catch (Exception e)
            {
                started.SetException(e);
            }
        }
    }
}
