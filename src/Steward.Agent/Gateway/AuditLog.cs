using System.Text.Json;

namespace Steward.Agent.Gateway;

/// <summary>One tool call as the audit log records it.</summary>
/// <param name="Decision">allow, ask-approved, ask-declined, ask-unavailable, deny, disabled.</param>
/// <param name="Outcome">ok, error (the tool reported an error), failed (the call failed), refused, cancelled.</param>
/// <param name="Arguments">The argument values, only when the policy enables it; otherwise null.</param>
public sealed record AuditEvent(
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
public sealed class AuditLog : IDisposable
{
    private readonly string path;
    private readonly Lock gate = new();
    private FileStream? stream;

    public AuditLog(string path)
    {
        this.path = path;
    }

    public string Path => path;

    public void Append(AuditEvent entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var buffer = new MemoryStream(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("time", entry.Time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
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
        }

        buffer.WriteByte((byte)'\n');
        lock (gate)
        {
            stream ??= Open();
            stream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            stream.Flush();
        }
    }

    private FileStream Open()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete };
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
            stream?.Dispose();
            stream = null;
        }
    }
}
