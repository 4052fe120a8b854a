namespace Steward.Agent.Files;

/// <summary>
/// An exclusive lock shared by every steward process of the user: a lock file (0600, no content) opened with
/// <see cref="FileShare.None"/>, held while the returned stream is open. Waits while another process or thread holds
/// it, and throws an <see cref="IOException"/> naming the lock file when it is not free within <c>wait</c>.
/// </summary>
/// <remarks>
/// <para>
/// On Linux and macOS, .NET opens a <see cref="FileShare.None"/> file with <c>flock(LOCK_EX | LOCK_NB)</c> on the new
/// descriptor. A <c>flock</c> lock belongs to that open file description, so it excludes other processes and other
/// handles of the same process alike, and the kernel releases it when the descriptor is closed or the process dies:
/// a crashed gateway never leaves the lock held. (On Windows, the same open is a sharing violation for any other open.)
/// </para>
/// <para>
/// Not <see cref="FileStream.Lock"/>: on Unix that is an <c>fcntl</c> record lock, owned by the process (two handles in
/// one process do not exclude each other) and dropped when any descriptor of the file in the process closes, and .NET
/// does not support it on macOS. .NET has no blocking <c>flock</c> (it always passes <c>LOCK_NB</c>), so a lock that is
/// held is tried again: spinning and yielding (<see cref="SpinWait"/>) for the first 20 ms, then every millisecond. Setting <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c> turns
/// these locks off in .NET, and must not be done for steward.
/// </para>
/// </remarks>
public static class FileLock
{
    /// <summary>Takes the lock on <paramref name="lockPath"/> (creating it 0600); dispose the result to release it.</summary>
    public static FileStream Acquire(string lockPath, TimeSpan wait)
    {
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        long started = 0;
        var spinner = default(SpinWait);
        while (true)
        {
            try
            {
                return new FileStream(lockPath, options);
            }
            catch (IOException e) when (e is not (DirectoryNotFoundException or FileNotFoundException or PathTooLongException))
            {
                // Held by another process or thread (EWOULDBLOCK, or a sharing violation on Windows).
                var now = Environment.TickCount64;
                if (started == 0)
                {
                    started = now;
                }
                else if (now - started > (long)wait.TotalMilliseconds)
                {
                    throw new IOException($"{lockPath} is held by another steward process for longer than {wait.TotalSeconds:0.#} s ({e.Message})", e);
                }

                // A line holds the lock for some microseconds: spin and yield at first; a holder that takes longer is
                // waited for in 1 ms sleeps, not by burning a core.
                if (now - started < 20)
                {
                    spinner.SpinOnce();
                }
                else
                {
                    Thread.Sleep(1);
                }
            }
        }
    }
}
