using System.Buffers;
using System.Globalization;
using System.Text.Json;

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

    public AuditLog(string path)
    {
        this.path = path;
    }

    public string Path => path;

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
            buffer.Write("\n"u8);
            stream ??= Open();
            stream.Write(buffer.WrittenSpan);
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

        var opened = new FileStream(path, options);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return opened;
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
