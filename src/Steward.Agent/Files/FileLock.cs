using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

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
public static partial class FileLock
{
    /// <summary>Takes the lock on <paramref name="lockPath"/> (creating it 0600); dispose the result to release it.</summary>
    public static FileStream Acquire(string lockPath, TimeSpan wait)
    {
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        FileStream? held = null;
        WaitFor(lockPath, wait, () =>
        {
            try
            {
                held = new FileStream(lockPath, options);
                return null;
            }
            catch (IOException e) when (e is not (DirectoryNotFoundException or FileNotFoundException or PathTooLongException))
            {
                // Held by another process or thread (EWOULDBLOCK, or a sharing violation on Windows).
                return e;
            }
        });
        return held!;
    }

    /// <summary>
    /// Tries <paramref name="attempt"/> (null: taken; else why not) until it succeeds or <paramref name="wait"/> has
    /// passed, then throws naming the lock file. A line holds a lock for some microseconds: spin and yield at first; a
    /// holder that takes longer is waited for in 1 ms sleeps, not by burning a core.
    /// </summary>
    private static void WaitFor(string lockPath, TimeSpan wait, Func<Exception?> attempt)
    {
        long started = 0;
        var spinner = default(SpinWait);
        while (attempt() is { } refused)
        {
            var now = Environment.TickCount64;
            if (started == 0)
            {
                started = now;
            }
            else if (now - started > (long)wait.TotalMilliseconds)
            {
                throw new IOException($"{lockPath} is held by another steward process for longer than {wait.TotalSeconds:0.#} s ({refused.Message})", refused);
            }

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

    /// <summary>
    /// The same lock for a writer that takes it many times a second (the audit log, once a tool call): the lock file is
    /// kept open and <c>flock</c>ed and unlocked on that descriptor each time, rather than opened and closed per line.
    /// Not thread-safe: its owner serialises <see cref="Take"/> and <see cref="Release"/>.
    /// </summary>
    /// <remarks>
    /// Other processes still take it as <see cref="Acquire"/> does: an exclusive <c>flock</c> on their own open of the same
    /// file excludes this one. The file is opened again after a second, so a lock file that was removed and created again
    /// (it never is by steward) is not followed for longer than that. On Windows, where a lock is a sharing mode and not a
    /// call, each <see cref="Take"/> is an <see cref="Acquire"/>.
    /// </remarks>
    public sealed class Kept(string lockPath) : IDisposable
    {
        private const long ReopenAfterMilliseconds = 1000;
        private FileStream? file;
        private long openedAt;
        private bool taken;

        public string LockPath => lockPath;

        /// <summary>Takes the lock, waiting at most <paramref name="wait"/> for another holder (then an <see cref="IOException"/>).</summary>
        public void Take(TimeSpan wait)
        {
            if (taken)
            {
                throw new InvalidOperationException("the lock is already taken");
            }

            var now = Environment.TickCount64;
            if (file is null || OperatingSystem.IsWindows() || now - openedAt > ReopenAfterMilliseconds)
            {
                // Opening with FileShare.None takes the lock (flock LOCK_EX on the new descriptor).
                file?.Dispose();
                file = null;
                file = Acquire(lockPath, wait);
                openedAt = now;
                taken = true;
                return;
            }

            var handle = file.SafeFileHandle;
            WaitFor(lockPath, wait, () => Flock(handle, LockExclusive | LockNonBlocking) == 0 ? null : Refusal(Marshal.GetLastPInvokeError()));
            taken = true;
        }

        /// <summary>Releases the lock taken by <see cref="Take"/>.</summary>
        public void Release()
        {
            if (!taken)
            {
                return;
            }

            taken = false;
            if (OperatingSystem.IsWindows() || Flock(file!.SafeFileHandle, LockUnlock) != 0)
            {
                // Unlocking failed (it does not, on a valid descriptor): closing the file releases the lock for certain.
                file?.Dispose();
                file = null;
            }
        }

        public void Dispose()
        {
            taken = false;
            file?.Dispose();
            file = null;
        }

        /// <summary>Why a non-blocking <c>flock</c> failed: held elsewhere (retried), interrupted (retried), else an error that is thrown.</summary>
        private Exception Refusal(int error) => error == Interrupted || error == (OperatingSystem.IsLinux() ? WouldBlockLinux : WouldBlockBsd)
            ? new IOException(Marshal.GetPInvokeErrorMessage(error))
            : throw new IOException($"{lockPath}: flock: {Marshal.GetPInvokeErrorMessage(error)}");
    }

    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private const int LockUnlock = 8;
    private const int Interrupted = 4;
    private const int WouldBlockLinux = 11;
    private const int WouldBlockBsd = 35;

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(SafeFileHandle descriptor, int operation);
}
