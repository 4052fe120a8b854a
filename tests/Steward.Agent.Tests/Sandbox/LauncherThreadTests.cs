using System.Diagnostics;
using Steward.Agent.Gateway;

namespace Steward.Agent.Tests.Sandbox;

/// <summary>
/// bubblewrap's <c>--die-with-parent</c> follows the thread that started it: a sandboxed server started from a thread
/// that then ends is killed. Upstreams are started from the launcher thread, so they outlive the thread that asked.
/// </summary>
public sealed class LauncherThreadTests
{
    [SandboxFact]
    public async Task A_sandboxed_process_started_through_the_launcher_outlives_the_thread_that_asked()
    {
        using var direct = Sleeper();
        using var launched = Sleeper();
        Task<bool>? start = null;
        OnThreadThatEnds(() =>
        {
            direct.Start();
            WaitUntilReady(direct);
        });
        OnThreadThatEnds(() =>
        {
            start = LauncherThread.StartAsync(launched);
            start.Wait();
            WaitUntilReady(launched);
        });
        Assert.True(await start!);
        try
        {
            // The control: started from the thread that ended, bubblewrap got SIGKILL when that thread ended.
            Assert.True(direct.WaitForExit(30_000), "a process started with --die-with-parent from a thread that ended was not killed");
            Assert.Equal(137, direct.ExitCode);
            Assert.False(launched.HasExited, "the process started through the launcher thread was killed when the asking thread ended");
        }
        finally
        {
            launched.Kill(entireProcessTree: true);
        }
    }

    private static Process Sleeper()
    {
        var start = new ProcessStartInfo("/usr/bin/bwrap") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--die-with-parent", "--",
                     NodePackages.Node22, "-e", "console.log('ready'); setTimeout(() => {}, 60000)" })
        {
            start.ArgumentList.Add(arg);
        }

        return new Process { StartInfo = start };
    }

    /// <summary>Until the sandboxed command runs (it says so): bubblewrap has set itself up, its parent-death signal included, so the thread's end is what decides.</summary>
    private static void WaitUntilReady(Process bwrap) => Assert.Equal("ready", bwrap.StandardOutput.ReadLine());

    private static void OnThreadThatEnds(Action action)
    {
        var thread = new Thread(() => action());
        thread.Start();
        thread.Join();
    }
}
