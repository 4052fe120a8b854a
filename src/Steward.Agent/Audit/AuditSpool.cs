using System.Text;
using System.Text.Json;

namespace Steward.Agent.Audit;

/// <summary>One event waiting in the spool: its id and its JSON line, exactly as it is sent.</summary>
internal readonly record struct SpooledEvent(string Id, string Line);

/// <summary>
/// The tool-call events not yet accepted by the Steward server: one JSON object a line in <c>audit-spool.jsonl</c>
/// next to the audit log, 0600. Every gateway process of the user shares it (a host may start one gateway per server),
/// so each change is made holding <c>audit-spool.jsonl.lock</c> (an exclusive lock on the open file, released when it is
/// closed, also by a process that dies), and the file is never held open between changes.
/// </summary>
/// <remarks>
/// Appends are one write, flushed to disk; removals rewrite the file atomically (a temporary file renamed over it).
/// A line that is not a whole event (a write torn by a power loss) is dropped at the next rewrite.
/// </remarks>
internal sealed class AuditSpool(string path)
{
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(10);

    public string Path => path;

    public string LockPath => path + ".lock";

    /// <summary>
    /// Appends <paramref name="lines"/>. When the spool would grow past <paramref name="maxBytes"/>, the oldest events are
    /// dropped until it holds at most three quarters of that (so the rewrite is rare). Returns how many were dropped.
    /// </summary>
    public int Append(IReadOnlyList<SpooledEvent> lines, long maxBytes)
    {
        using var held = Lock();
        var adding = lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l.Line) + 1);
        var size = File.Exists(path) ? new FileInfo(path).Length : 0;
        if (size + adding > maxBytes)
        {
            // Rare (the server unreachable for a long time): keep the newest, in order.
            var all = ReadUnlocked().Concat(lines).ToList();
            var total = all.Sum(l => (long)Encoding.UTF8.GetByteCount(l.Line) + 1);
            var dropped = 0;
            while (dropped < all.Count && total > maxBytes / 4 * 3)
            {
                total -= Encoding.UTF8.GetByteCount(all[dropped].Line) + 1;
                dropped++;
            }

            Rewrite(all[dropped..]);
            return dropped;
        }

        var text = new StringBuilder();
        foreach (var line in lines)
        {
            text.Append(line.Line).Append('\n');
        }

        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
        stream.Flush(flushToDisk: true);
        return 0;
    }

    /// <summary>Every whole event in the spool, oldest first.</summary>
    public List<SpooledEvent> Read()
    {
        using var held = Lock();
        return ReadUnlocked();
    }

    /// <summary>Removes the events whose ids are in <paramref name="ids"/> (sent, or refused for good), and any torn line.</summary>
    public void Remove(IReadOnlySet<string> ids)
    {
        using var held = Lock();
        Rewrite([.. ReadUnlocked().Where(e => !ids.Contains(e.Id))]);
    }

    /// <summary>How many lines the spool holds (without parsing them).</summary>
    public int Count()
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        var count = 0;
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length > 0)
            {
                count++;
            }
        }

        return count;
    }

    private List<SpooledEvent> ReadUnlocked()
    {
        var events = new List<SpooledEvent>();
        if (!File.Exists(path))
        {
            return events;
        }

        foreach (var line in File.ReadLines(path))
        {
            if (IdOf(line) is { } id)
            {
                events.Add(new SpooledEvent(id, line));
            }
        }

        return events;
    }

    private void Rewrite(IReadOnlyList<SpooledEvent> events)
    {
        if (events.Count == 0)
        {
            Files.PrivateFiles.DeleteIfExists(path);
            return;
        }

        var text = new StringBuilder();
        foreach (var e in events)
        {
            text.Append(e.Line).Append('\n');
        }

        Files.PrivateFiles.WriteAtomic(path, Encoding.UTF8.GetBytes(text.ToString()));
    }

    private static string? IdOf(string line)
    {
        if (line.Length == 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.ValueKind == JsonValueKind.Object &&
                   document.RootElement.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
                ? id.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The spool's lock (<see cref="Files.FileLock"/>), waited for while another gateway holds it.</summary>
    private FileStream Lock()
    {
        Files.PrivateFiles.EnsureDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        return Files.FileLock.Acquire(LockPath, LockWait);
    }
}
