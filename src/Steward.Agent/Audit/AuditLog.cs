using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Steward.Agent.Files;
using Steward.Core.Audit;

namespace Steward.Agent.Audit;

/// <summary>
/// The local audit log: one JSON object a line, appended, the file created 0600. Audit is not logging: a write that
/// fails throws, and the gateway fails the call.
/// </summary>
/// <remarks>
/// <para>
/// Each line is sealed with <see cref="JsonlChain"/> (<c>prevHash</c> and <c>hash</c> members), continuing the chain from
/// the line before it, so <c>steward audit verify --file</c> checks the whole log and names the first line that was
/// changed, removed or inserted.
/// </para>
/// <para>
/// One file, many writers: a host may start one gateway process per server, and all of them append here. Each append
/// holds <c>audit.jsonl.lock</c> (<see cref="FileLock"/>: an exclusive lock across processes and threads, released when
/// it is closed or its process dies; kept open between lines, <see cref="FileLock.Kept"/>) while it reads the hash of the file's last line (from the end of the file, one
/// read of at most 4 KiB for a usual line; not read when the file still ends where this writer's own last line did),
/// seals the new line with it, and writes the line at the end of the file. So
/// however the appends of several processes interleave, the file is one chain, and no line is written over another.
/// A last line that is not whole (a write torn by a crash or a full disk) is ended with a newline before the next line,
/// which starts the chain again from the genesis hash; verify names the torn line.
/// </para>
/// <para>
/// Flush policy: the file is opened once and kept open, unbuffered; each line is handed to the operating system in one
/// <c>write</c> at the file's current end before the call's answer goes back, so it survives the gateway process
/// crashing. It is not <c>fsync</c>ed per call: a power loss may lose the last lines the kernel had not written out yet
/// (the same guarantee as the log file). A write that fails is cut off again, so it leaves no partial line.
/// </para>
/// </remarks>
public sealed class AuditLog : IDisposable
{
    /// <summary>How long an append waits for the lock another gateway holds before the call fails.</summary>
    internal static readonly TimeSpan LockWait = TimeSpan.FromSeconds(10);

    private const int TailChunk = 4096;
    private readonly string path;
    private readonly Lock gate = new();
    private readonly ArrayBufferWriter<byte> buffer = new(512);
    private readonly ArrayBufferWriter<byte> line = new(640);
    private readonly FileLock.Kept held;
    private readonly byte[] tail = new byte[TailChunk];
    private Utf8JsonWriter? writer;
    private FileStream? stream;

    /// <summary>Where this writer's last line ended, and its hash: while the file still ends there, no other writer has appended since.</summary>
    private long lastEnd = -1;
    private string lastHash = HashChain.Genesis;

    public AuditLog(string path)
    {
        this.path = path;
        held = new FileLock.Kept(path + ".lock");
    }

    public string Path => path;

    /// <summary>The lock file every writer of this log holds while it appends.</summary>
    public string LockPath => held.LockPath;

    /// <summary>Where each line written is also queued for the Steward server (null: the log is local only).</summary>
    public AuditUploader? Uploader { get; init; }

    /// <summary>Appends <paramref name="entry"/>; with <paramref name="upload"/>, queues it for the Steward server too (when there is one).</summary>
    public void Append(in ToolCallEvent entry, bool upload = true)
    {
        ArgumentNullException.ThrowIfNull(entry.Server);
        ArgumentNullException.ThrowIfNull(entry.Tool);
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

            // The line is the wire form of the event without its id (Core's ToolCallWire): what the server reads.
            ToolCallWire.Write(writer, null, entry);
            writer.Flush();
            stream ??= Open();
            var handle = stream.SafeFileHandle;
            held.Take(LockWait);
            try
            {
                var end = RandomAccess.GetLength(handle);
                // The file still ends with this writer's own last line (the usual case: one gateway per log, or no
                // other gateway wrote since): its hash is known, and the end of the file need not be read and parsed.
                var (head, whole) = end == lastEnd ? (lastHash, true) : ReadHead(handle, end);
                line.ResetWrittenCount();
                if (!whole)
                {
                    NewLine(line);
                }

                var hash = JsonlChain.Seal(buffer.WrittenMemory, head, line);
                NewLine(line);
                try
                {
                    RandomAccess.Write(handle, line.WrittenSpan, end);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    lastEnd = -1;
                    CutOff(handle, end);
                    throw;
                }

                lastEnd = end + line.WrittenCount;
                lastHash = hash;
            }
            finally
            {
                held.Release();
            }

            if (upload)
            {
                Uploader?.Enqueue(entry);
            }
        }
    }

    private FileStream Open()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        // Writes go through RandomAccess at the end read under the lock: FileMode.Append is not O_APPEND in .NET on Unix
        // (it seeks to the end once, at open), so it would write over the lines of other writers.
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.ReadWrite | FileShare.Delete, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var opened = new FileStream(path, options);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(opened.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return opened;
    }

    /// <summary>
    /// The hash of the log's last non-blank line (the chain continues from it), or the genesis hash for an empty log or a
    /// last line that is not a JSON object with a <c>hash</c> (torn or edited: verify names it); and whether the file
    /// ends with a newline. Reads backwards from <paramref name="end"/>, 4 KiB first, more only for a longer line.
    /// </summary>
    private (string Head, bool Whole) ReadHead(SafeFileHandle handle, long end)
    {
        if (end == 0)
        {
            return (HashChain.Genesis, true);
        }

        byte[]? rented = null;
        try
        {
            var chunk = tail;
            while (true)
            {
                var size = (int)Math.Min(end, chunk.Length);
                var read = chunk.AsSpan(0, size);
                ReadExactly(handle, read, end - size);
                var whole = read[^1] == (byte)'\n';
                var last = read.Length - 1;
                while (last >= 0 && IsBlank(read[last]))
                {
                    last--;
                }

                var start = last < 0 ? -1 : read[..(last + 1)].LastIndexOf((byte)'\n');
                if (start >= 0 || size == end)
                {
                    // The last line starts in this chunk (or the file has no earlier line).
                    return (last < 0 ? HashChain.Genesis : HashOf(read[(start + 1)..(last + 1)]), whole);
                }

                if (size > JsonlChain.LineLimits.MaxBytes)
                {
                    // Longer than any record verify accepts: not a line to continue from.
                    return (HashChain.Genesis, whole);
                }

                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }

                rented = ArrayPool<byte>.Shared.Rent(chunk.Length * 4);
                chunk = rented;
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        while (destination.Length > 0)
        {
            var read = RandomAccess.Read(handle, destination, offset);
            if (read == 0)
            {
                throw new IOException("the audit log became shorter while it was locked");
            }

            destination = destination[read..];
            offset += read;
        }
    }

    private static void NewLine(ArrayBufferWriter<byte> output)
    {
        output.GetSpan(1)[0] = (byte)'\n';
        output.Advance(1);
    }

    private static bool IsBlank(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0x0B or 0x0C;

    /// <summary>The <c>hash</c> member of a line that is a JSON object, else the genesis hash (as <see cref="JsonlChain.HeadOf"/>).</summary>
    private static string HashOf(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = JsonlChain.LineLimits.MaxDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return HashChain.Genesis;
            }

            string? hash = null;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals(HashChain.HashField))
                {
                    reader.Read();
                    hash = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
            }

            return hash ?? HashChain.Genesis;
        }
        catch (JsonException)
        {
            return HashChain.Genesis;
        }
    }

    /// <summary>After a failed write: cuts the file back to where the line began, so no partial line stays (best effort).</summary>
    private static void CutOff(SafeFileHandle handle, long end)
    {
        try
        {
            RandomAccess.SetLength(handle, end);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The next append ends the partial line with a newline; verify names it.
        }
    }

    /// <summary>An event's fields after its time, as the audit line and the upload to the server both write them.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            writer?.Dispose();
            writer = null;
            stream?.Dispose();
            stream = null;
            held.Dispose();
        }
    }
}
