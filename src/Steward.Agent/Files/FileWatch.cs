using System.Runtime.InteropServices;
using System.Text;

namespace Steward.Agent.Files;

/// <summary>
/// Calls back when one file changes: created, replaced by a rename, deleted or moved away, and (with
/// <c>writes</c>) written in place. The callback runs on the watch's own thread; it may come more often than the file
/// changed (a save of several writes), so callers read the file and compare.
/// </summary>
/// <remarks>
/// <para>
/// Why not <see cref="FileSystemWatcher"/> alone: on Linux it puts one inotify watch on the whole directory and filters
/// names in user space, so every write to any file of that directory wakes it. The configuration directory also holds
/// <c>audit.jsonl</c> and <c>steward.log</c>, which the gateway appends to on every tool call: each call woke every
/// watcher of the directory, a fifth of the gateway's CPU per call.
/// </para>
/// <para>
/// On Linux this is two inotify watches on one descriptor: the directory for names only (create, delete, rename; never
/// a write), and the file's own inode for writes, moved to the new inode whenever the name is created or replaced. A
/// dedicated thread polls the descriptor (waking at least every second to see disposal). Elsewhere it is a
/// <see cref="FileSystemWatcher"/> on the directory with the name as its filter.
/// </para>
/// </remarks>
public sealed partial class FileWatch : IDisposable
{
    private const uint InModify = 0x2;
    private const uint InAttrib = 0x4;
    private const uint InCloseWrite = 0x8;
    private const uint InMovedFrom = 0x40;
    private const uint InMovedTo = 0x80;
    private const uint InCreate = 0x100;
    private const uint InDelete = 0x200;
    private const uint InQueueOverflow = 0x4000;
    private const uint InOnlyDirectory = 0x1000000;
    private const uint NameEvents = InCreate | InDelete | InMovedFrom | InMovedTo | InOnlyDirectory;
    private const uint WriteEvents = InModify | InCloseWrite | InAttrib;
    private const int NonBlocking = 0x800;
    private const int CloseOnExec = 0x80000;
    private const short PollIn = 1;
    private const int HeaderBytes = 16;

    private readonly string path;
    private readonly string name;
    private readonly bool writes;
    private readonly Action changed;
    private readonly FileSystemWatcher? portable;
    private readonly Thread? thread;
    private readonly int descriptor = -1;
    private readonly int directoryWatch = -1;
    private readonly Lock closing = new();
    private int fileWatch = -1;
    private bool closed;
    private volatile bool disposed;

    private FileWatch(string path, Action changed, bool writes)
    {
        this.path = path;
        name = Path.GetFileName(path);
        this.writes = writes;
        this.changed = changed;
        var directory = Path.GetDirectoryName(path)!;
        if (!OperatingSystem.IsLinux())
        {
            portable = new FileSystemWatcher(directory, name)
            {
                NotifyFilter = NotifyFilters.FileName | (writes ? NotifyFilters.LastWrite | NotifyFilters.Size : 0),
            };
            portable.Changed += (_, _) => changed();
            portable.Created += (_, _) => changed();
            portable.Deleted += (_, _) => changed();
            portable.Renamed += (_, _) => changed();
            portable.EnableRaisingEvents = true;
            return;
        }

        descriptor = InotifyInit(NonBlocking | CloseOnExec);
        if (descriptor < 0)
        {
            throw Failure("cannot watch for changes (inotify_init1)", directory);
        }

        directoryWatch = InotifyAddWatch(descriptor, directory, NameEvents);
        if (directoryWatch < 0)
        {
            var error = Failure("cannot watch the directory (inotify_add_watch)", directory);
            Close(descriptor);
            throw error;
        }

        WatchFile();
        thread = new Thread(Run) { IsBackground = true, Name = "steward file watch" };
        thread.Start();
    }

    /// <summary>
    /// Watches <paramref name="path"/>; null when its directory does not exist. Throws an <see cref="IOException"/>
    /// naming the directory when the system refuses a watch (out of inotify instances or watches).
    /// </summary>
    /// <param name="writes">Whether writes in place count; false for a file only ever replaced by a rename.</param>
    public static FileWatch? Start(string path, Action changed, bool writes = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(changed);
        var full = Path.GetFullPath(path);
        return Directory.Exists(Path.GetDirectoryName(full)) ? new FileWatch(full, changed, writes) : null;
    }

    /// <summary>Moves the write watch to the inode the name now points to (none when the file is gone).</summary>
    private void WatchFile()
    {
        if (!writes)
        {
            return;
        }

        var previous = fileWatch;
        fileWatch = InotifyAddWatch(descriptor, path, WriteEvents);
        if (previous >= 0 && previous != fileWatch)
        {
            // The old inode was renamed away or unlinked: its writes are not this file's any more.
            _ = InotifyRemoveWatch(descriptor, previous);
        }
    }

    private void Run()
    {
        var buffer = new byte[16 * 1024];
        var poll = new PollDescriptor { Descriptor = descriptor, Events = PollIn };
        try
        {
            while (!disposed)
            {
                poll.Returned = 0;
                if (Poll(ref poll, 1, 1000) <= 0)
                {
                    continue;
                }

                var read = Read(descriptor, buffer);
                if (read <= 0)
                {
                    continue;
                }

                var (hit, renamed) = Scan(buffer.AsSpan(0, (int)read));
                if (renamed)
                {
                    WatchFile();
                }

                if (hit && !disposed)
                {
                    changed();
                }
            }
        }
        finally
        {
            // Under the lock: Dispose must not remove a watch from a descriptor number another watch may reuse.
            lock (closing)
            {
                closed = true;
                Close(descriptor);
            }
        }
    }

    /// <summary>Whether the events concern this file, and whether its name was (re)created, replaced or removed.</summary>
    private (bool Hit, bool Renamed) Scan(ReadOnlySpan<byte> events)
    {
        var (hit, renamed) = (false, false);
        while (events.Length >= HeaderBytes)
        {
            var watch = BitConverter.ToInt32(events);
            var mask = BitConverter.ToUInt32(events[4..]);
            var length = (int)BitConverter.ToUInt32(events[12..]);
            if (HeaderBytes + length > events.Length)
            {
                break;
            }

            var named = events.Slice(HeaderBytes, length);
            var end = named.IndexOf((byte)0);
            named = end < 0 ? named : named[..end];
            if ((mask & InQueueOverflow) != 0)
            {
                (hit, renamed) = (true, true);
            }
            else if (watch == directoryWatch && (mask & (InCreate | InDelete | InMovedFrom | InMovedTo)) != 0 &&
                     Encoding.UTF8.GetString(named) == name)
            {
                (hit, renamed) = (true, true);
            }
            else if (watch == fileWatch && (mask & WriteEvents) != 0)
            {
                hit = true;
            }

            events = events[(HeaderBytes + length)..];
        }

        return (hit, renamed);
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        portable?.Dispose();
        if (thread is null)
        {
            return;
        }

        // Removing the directory's watch queues an event that ends the thread's poll now rather than within a second.
        lock (closing)
        {
            if (!closed)
            {
                _ = InotifyRemoveWatch(descriptor, directoryWatch);
            }
        }

        if (Thread.CurrentThread != thread)
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }
    }

    private static IOException Failure(string what, string directory) =>
        new($"{directory}: {what}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short Returned;
    }

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial int InotifyInit(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InotifyAddWatch(int descriptor, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    private static partial int InotifyRemoveWatch(int descriptor, int watch);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollDescriptor descriptors, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int descriptor, byte* buffer, nuint count);

    private static unsafe nint Read(int descriptor, byte[] buffer)
    {
        fixed (byte* start = buffer)
        {
            return Read(descriptor, start, (nuint)buffer.Length);
        }
    }

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
