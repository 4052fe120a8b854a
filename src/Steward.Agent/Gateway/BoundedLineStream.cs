using System.Text;
using System.Text.RegularExpressions;

namespace Steward.Agent.Gateway;

/// <summary>
/// An upstream's stdout (line-delimited JSON-RPC), passed on one whole line at a time, so that no message larger than
/// <see cref="Limit"/> bytes is ever held in memory: the SDK's reader would otherwise read a line of any length. A line
/// past the limit is read through without being kept (its first and last bytes only): when it is an answer whose id can
/// be read, it is replaced by a JSON-RPC error for that id, so the request fails at once with a message that says why;
/// any other over-long line is dropped. Either way <c>onOversized</c> is told (id or null, and the size). With a
/// <see cref="MessageWindow"/>, each line that is a JSON object waits for a place in it before it is passed on.
/// </summary>
internal sealed partial class BoundedLineStream(Stream inner, long limit, string server, Action<string?, long> onOversized, MessageWindow? window = null) : Stream
{
    private const int Window = 4096;
    private readonly byte[] chunk = new byte[64 * 1024];
    private readonly MemoryStream line = new();
    private readonly byte[] head = new byte[Window];
    private readonly byte[] tail = new byte[Window];
    private ReadOnlyMemory<byte> ready;
    private byte[]? readyBuffer;
    private int chunkStart;
    private int chunkEnd;
    private bool skipping;
    private int headLength;
    private int tailLength;
    private long skipped;
    private bool ended;
    private bool admitted;

    /// <summary>The largest line passed on, in bytes (without its newline).</summary>
    public long Limit { get; } = limit;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (ready.IsEmpty)
        {
            if (ended)
            {
                return 0;
            }

            if (chunkStart == chunkEnd)
            {
                chunkStart = 0;
                chunkEnd = await inner.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
                if (chunkEnd == 0)
                {
                    ended = true;
                    // A last line without its newline (a JSON body) is passed on as it is, or ends as a longer one does.
                    if (skipping)
                    {
                        EndSkipped(newline: false);
                    }
                    else if (line.Length > 0)
                    {
                        Emit();
                    }

                    continue;
                }
            }

            Consume();
        }

        if (!admitted && window is not null && IsJsonObject(ready.Span))
        {
            await window.EnterAsync(cancellationToken).ConfigureAwait(false);
        }

        admitted = true;
        var count = Math.Min(buffer.Length, ready.Length);
        ready[..count].CopyTo(buffer);
        ready = ready[count..];
        admitted = !ready.IsEmpty;
        return count;
    }

    /// <summary>A line the SDK's reader makes one message of: a JSON object (an event stream's lines are not windowed).</summary>
    private static bool IsJsonObject(ReadOnlySpan<byte> line)
    {
        var start = line.IndexOfAnyExcept((byte)' ', (byte)'\t', (byte)'\r');
        return start >= 0 && line[start] == (byte)'{';
    }

    /// <summary>Takes bytes from the chunk up to the end of a line (which then becomes ready) or of the chunk.</summary>
    private void Consume()
    {
        var span = chunk.AsSpan(chunkStart, chunkEnd - chunkStart);
        var newline = span.IndexOf((byte)'\n');
        var piece = newline < 0 ? span : span[..(newline + 1)];
        chunkStart += piece.Length;
        if (skipping)
        {
            Skip(piece);
            return;
        }

        if (line.Length + piece.Length - (newline < 0 ? 0 : 1) > Limit)
        {
            // Past the limit: keep the line's first bytes (for the id of an answer that starts with it) and read on.
            var kept = line.GetBuffer().AsSpan(0, (int)line.Length);
            headLength = Math.Min(Window, kept.Length);
            kept[..headLength].CopyTo(head);
            if (headLength < Window)
            {
                var more = Math.Min(Window - headLength, piece.Length);
                piece[..more].CopyTo(head.AsSpan(headLength));
                headLength += more;
            }

            skipped = line.Length;
            tailLength = 0;
            line.SetLength(0);
            line.Capacity = 0;
            skipping = true;
            Skip(piece);
            return;
        }

        line.Write(piece);
        if (newline >= 0)
        {
            Emit();
        }
    }

    private void Skip(ReadOnlySpan<byte> piece)
    {
        var ends = piece.Length > 0 && piece[^1] == (byte)'\n';
        var body = ends ? piece[..^1] : piece;
        skipped += body.Length;
        if (body.Length >= Window)
        {
            body[^Window..].CopyTo(tail);
            tailLength = Window;
        }
        else
        {
            var keep = Math.Min(tailLength, Window - body.Length);
            tail.AsSpan(tailLength - keep, keep).CopyTo(tail);
            body.CopyTo(tail.AsSpan(keep));
            tailLength = keep + body.Length;
        }

        if (ends)
        {
            EndSkipped(newline: true);
        }
    }

    /// <summary>The end of a line past the limit: the error for its id in its place, or nothing.</summary>
    private void EndSkipped(bool newline)
    {
        skipping = false;
        // An event stream's line is a data field ("data: {…}"): the error replacing it is one too.
        var start = Encoding.UTF8.GetString(head, 0, headLength);
        var field = start.StartsWith("data:", StringComparison.Ordinal) ? "data: " : "";
        var id = IdOf(field.Length > 0 ? start[5..] : start, Encoding.UTF8.GetString(tail, 0, tailLength));
        onOversized(id, skipped);
        if (id is not null)
        {
            var message = System.Text.Json.JsonEncodedText.Encode(Message(server, skipped, Limit)).Value;
            var error = $$$"""{{{field}}}{"jsonrpc":"2.0","id":{{{id}}},"error":{"code":-32603,"message":"{{{message}}}"}}""";
            line.Write(Encoding.UTF8.GetBytes(newline ? error + "\n" : error));
            Emit();
        }
    }

    private void Emit()
    {
        // The line's bytes are handed out from a copy, so the buffer can take the next line while they are read.
        readyBuffer = line.ToArray();
        ready = readyBuffer;
        line.SetLength(0);
        if (line.Capacity > 1024 * 1024)
        {
            line.Capacity = 0;
        }
    }

    /// <summary>How <see cref="Message"/> begins.</summary>
    public const string MessagePrefix = "Steward: the answer of ";

    /// <summary>What the host is told in place of an answer past the limit.</summary>
    public static string Message(string server, long size, long limit) =>
        $"{MessagePrefix}\"{server}\" is {Mib(size)} MiB, over the gateway's limit of {Mib(limit)} MiB, so it was not passed on. " +
        $"Ask for less (a narrower query, a page of the results), or set {LimitVariable} to raise the limit.";

    /// <summary>The variable that sets the limit, in MiB (default <see cref="DefaultLimitMib"/>).</summary>
    public const string LimitVariable = "STEWARD_GATEWAY_MAX_MESSAGE_MIB";

    public const int DefaultLimitMib = 16;

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024.0)).ToString(bytes % (1024 * 1024) == 0 ? "0" : "0.0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The id of an answer, as written: the top-level <c>"id"</c> first after <c>"jsonrpc"</c>, or last before the closing brace.</summary>
    internal static string? IdOf(string head, string tail)
    {
        var first = LeadingId().Match(head);
        if (first.Success)
        {
            return first.Groups["id"].Value;
        }

        var last = TrailingId().Match(tail);
        return last.Success ? last.Groups["id"].Value : null;
    }

    [GeneratedRegex("""^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(?<id>-?\d+|"(?:[^"\\]|\\.)*")\s*,""")]
    private static partial Regex LeadingId();

    [GeneratedRegex("""[,{]\s*"id"\s*:\s*(?<id>-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$""")]
    private static partial Regex TrailingId();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            line.Dispose();
        }

        base.Dispose(disposing);
    }
}
