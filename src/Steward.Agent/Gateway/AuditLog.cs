using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Steward.Core.Audit;

namespace Steward.Agent.Gateway;

/// <summary>One tool call as the audit log records it.</summary>
/// <param name="Decision">allow, ask-approved, ask-declined, ask-unavailable, deny, disabled.</param>
/// <param name="Outcome">ok, error (the tool reported an error), failed (the call failed), refused, cancelled, timeout.</param>
/// <param name="Arguments">The argument values (as received), only when the policy enables it; otherwise null.</param>
public readonly record struct AuditEvent(
    DateTimeOffset Time,
    string Server,
    string Tool,
    string Decision,
    string Because,
    double DurationMs,
    string Outcome,
    IDictionary<string, JsonElement>? Arguments);

/// <summary>
/// The local audit log: one JSON object a line, appended, the file created 0600. Audit is not logging: a write that
/// fails throws, and the gateway fails the call.
/// </summary>
/// <remarks>
/// Each line is sealed with <see cref="JsonlChain"/> (<c>prevHash</c> and <c>hash</c> members), continuing the chain from
/// the head of the existing file when it is opened, so <c>steward audit verify --file</c> checks the whole log and names
/// the first line that was changed, removed or inserted.
/// </remarks>
/// <remarks>
/// Flush policy: the file is opened once and kept open, unbuffered; each line is formatted into a reused buffer and
/// handed to the operating system in one <c>write</c> before the call's answer goes back, so a line is never split
/// between two writers and survives the gateway process crashing. It is not <c>fsync</c>ed per call: a power loss may
/// lose the last lines the kernel had not written out yet (the same guarantee as the log file).
/// </remarks>
public sealed class AuditLog : IDisposable
{
    private readonly string path;
    private readonly Lock gate = new();
    private readonly ArrayBufferWriter<byte> buffer = new(512);
    private Utf8JsonWriter? writer;
    private FileStream? stream;
    private string head = HashChain.Genesis;

    public AuditLog(string path)
    {
        this.path = path;
    }

    public string Path => path;

    /// <summary>Where each line written is also queued for the Steward server (null: the log is local only).</summary>
    public AuditUploader? Uploader { get; init; }

    public void Append(in AuditEvent entry)
    {
        ArgumentNullException.ThrowIfNull(entry.Server);
        ArgumentNullException.ThrowIfNull(entry.Tool);
        Span<char> time = stackalloc char[32];
        entry.Time.UtcDateTime.TryFormat(time, out var timeLength, "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        lock (gate)
        {
            buffer.ResetWrittenCount();
            if (writer is null)
            {
                writer = new Utf8JsonWriter(buffer);
            }
            else
            {
                writer.Reset(buffer);
            }

            writer.WriteStartObject();
            writer.WriteString("time", time[..timeLength]);
            writer.WriteString("server", entry.Server);
            writer.WriteString("tool", entry.Tool);
            writer.WriteString("decision", entry.Decision);
            writer.WriteString("because", entry.Because);
            writer.WriteNumber("durationMs", Math.Round(entry.DurationMs, 3));
            writer.WriteString("outcome", entry.Outcome);
            if (entry.Arguments is { } arguments)
            {
                writer.WriteStartObject("arguments");
                foreach (var (name, value) in arguments)
                {
                    writer.WritePropertyName(name);
                    value.WriteTo(writer);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.Flush();
            stream ??= Open();
            var (line, hash) = JsonlChain.Seal(Encoding.UTF8.GetString(buffer.WrittenSpan), head);
            stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
            head = hash;
            Uploader?.Enqueue(entry);
        }
    }

    private FileStream Open()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        // BufferSize 0: every Write is one write(2) on an O_APPEND descriptor.
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        head = ReadHead(path);
        var opened = new FileStream(path, options);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return opened;
    }

    /// <summary>The hash of the existing log's last line (the chain continues from it), or the genesis hash for a new or empty log.</summary>
    private static string ReadHead(string path)
    {
        if (!File.Exists(path))
        {
            return HashChain.Genesis;
        }

        try
        {
            using var reader = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete });
            using var text = new StreamReader(reader, Encoding.UTF8);
            return JsonlChain.HeadOf(Lines(text));
        }
        catch (JsonException)
        {
            // The last line is not JSON (a torn or edited line): the chain restarts, and verify names that line.
            return HashChain.Genesis;
        }
    }

    private static IEnumerable<string> Lines(StreamReader reader)
    {
        while (reader.ReadLine() is { } line)
        {
            yield return line;
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            writer?.Dispose();
            writer = null;
            stream?.Dispose();
            stream = null;
        }
    }
}
