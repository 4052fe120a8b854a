using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Steward.Agent.Audit;
using Steward.Core.Audit;

namespace Steward.Bench;

/// <summary>
/// The gateway's audit log as it was before appends took the cross-process lock (commit 908c3f9), kept as the
/// baseline of <see cref="AuditLogBenchmarks"/>: one handle kept open, the chain head kept in memory. Several writers
/// on one file overwrite each other's lines with it; it is measured only for the cost of a line.
/// </summary>
internal sealed class BaselineAuditLog : IDisposable
{
    private readonly string path;
    private readonly Lock gate = new();
    private readonly ArrayBufferWriter<byte> buffer = new(512);
    private Utf8JsonWriter? writer;
    private FileStream? stream;
    private string head = HashChain.Genesis;

    public BaselineAuditLog(string path)
    {
        this.path = path;
    }

    public string Path => path;

    public void Append(in ToolCallEvent entry)
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
