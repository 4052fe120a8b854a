using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Steward.Core.Json;

namespace Steward.Core.Audit;

/// <summary>Where a chain first breaks: the record's index (0-based, in chain order) and what differs.</summary>
public sealed record ChainBreak(long Index, string Reason);

/// <summary>
/// The hash chain that makes an audit trail tamper-evident: each record stores the hash of the one before it
/// (<c>prevHash</c>; the first stores <see cref="Genesis"/>) and its own <c>hash</c> =
/// lowercase hex SHA-256 of the UTF-8 bytes of <c>prevHash</c> followed by the record's canonical JSON.
/// <para>
/// Canonical JSON (<see cref="Canonical(JsonElement)"/>): no whitespace; object members sorted by name (ordinal, UTF-16
/// code units, as RFC 8785 does) at every level; numbers exactly as written; strings with only <c>"</c>, <c>\</c> and
/// control characters escaped (<c>\b \f \n \r \t</c>, else <c>\u00xx</c>), everything else as UTF-8. For a JSONL log line
/// the record is the line's object without its <c>prevHash</c> and <c>hash</c> members.
/// </para>
/// <para>
/// Changing a record breaks its own link (its hash no longer matches); deleting, inserting or moving one breaks the link of
/// the record that follows (its <c>prevHash</c> no longer names the record before it). Removing records from the end, or
/// rewriting every hash after a change, is not visible from the chain alone: compare the head hash with one kept elsewhere.
/// </para>
/// </summary>
public static class HashChain
{
    /// <summary>The <c>prevHash</c> of the first record.</summary>
    public static readonly string Genesis = new('0', 64);

    public const string PrevHashField = "prevHash";
    public const string HashField = "hash";

    /// <summary>The link: hex SHA-256 over <paramref name="previousHash"/> then <paramref name="canonicalJson"/>.</summary>
    public static string Link(string previousHash, string canonicalJson)
    {
        ArgumentNullException.ThrowIfNull(previousHash);
        ArgumentNullException.ThrowIfNull(canonicalJson);
        var bytes = Encoding.UTF8.GetBytes(previousHash + canonicalJson);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    /// <summary>The link over canonical JSON already in UTF-8 (<see cref="WriteCanonical"/>): the same hash as <see cref="Link(string, string)"/>.</summary>
    public static string Link(string previousHash, ReadOnlySpan<byte> canonicalUtf8)
    {
        ArgumentNullException.ThrowIfNull(previousHash);
        var length = Encoding.UTF8.GetByteCount(previousHash) + canonicalUtf8.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = Encoding.UTF8.GetBytes(previousHash, rented);
            canonicalUtf8.CopyTo(rented.AsSpan(written));
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(rented.AsSpan(0, length), hash);
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The canonical JSON of <paramref name="element"/>, leaving out the top-level members named in <paramref name="without"/>.</summary>
    public static string Canonical(JsonElement element, params string[] without)
    {
        ArgumentNullException.ThrowIfNull(without);
        var output = new ArrayBufferWriter<byte>(256);
        WriteCanonical(element, output, without);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>
    /// <see cref="Canonical(JsonElement, string[])"/> as UTF-8, appended to <paramref name="output"/>: what a writer that
    /// hashes bytes uses (<see cref="Link(string, ReadOnlySpan{byte})"/>), without the text in between.
    /// </summary>
    public static void WriteCanonical(JsonElement element, IBufferWriter<byte> output, params ReadOnlySpan<string> without)
    {
        ArgumentNullException.ThrowIfNull(output);
        Write(output, element, without);
    }

    /// <summary>The canonical JSON of a JSON text (which must parse; duplicate names are refused as ambiguous).</summary>
    public static string Canonical(ReadOnlyMemory<byte> utf8Json, params string[] without)
    {
        var parsed = StrictJson.Parse(utf8Json);
        using var document = parsed.Document;
        if (document is null || parsed.Duplicates.Count > 0)
        {
            throw new FormatException(parsed.Failure?.ToString() ?? "the record has a duplicate member name");
        }

        return Canonical(document.RootElement, without);
    }

    /// <summary>
    /// Checks records in chain order and returns where the chain first breaks, or null when it holds. Stops at the first
    /// break: after it, nothing further can be trusted.
    /// </summary>
    public static ChainBreak? Verify(IEnumerable<(string Canonical, string? PrevHash, string? Hash)> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var verifier = new Verifier();
        foreach (var (canonical, prev, hash) in records)
        {
            if (verifier.Add(canonical, prev, hash) is { } broken)
            {
                return broken;
            }
        }

        return null;
    }

    /// <summary>Verifies a chain one record at a time (for a database cursor or a file read line by line).</summary>
    public sealed class Verifier
    {
        private string expected = Genesis;

        /// <summary>Records accepted so far.</summary>
        public long Count { get; private set; }

        /// <summary>The hash of the last record accepted (<see cref="Genesis"/> before the first).</summary>
        public string Head => expected;

        public ChainBreak? Add(string canonical, string? prevHash, string? hash)
        {
            ArgumentNullException.ThrowIfNull(canonical);
            var index = Count;
            if (prevHash is null || hash is null)
            {
                return new ChainBreak(index, $"the record has no {(prevHash is null ? "prevHash" : "hash")} (it was written outside the chain or the field was removed)");
            }

            if (!string.Equals(prevHash, expected, StringComparison.Ordinal))
            {
                return new ChainBreak(index, index == 0
                    ? $"prevHash is {Short(prevHash)}, but the first record must start from {Short(Genesis)} (records before it were removed)"
                    : $"prevHash is {Short(prevHash)}, but the previous record's hash is {Short(expected)} (a record before this one was deleted, inserted or moved)");
            }

            var computed = Link(prevHash, canonical);
            if (!string.Equals(computed, hash, StringComparison.Ordinal))
            {
                return new ChainBreak(index, $"hash is {Short(hash)}, but the record's content hashes to {Short(computed)} (the record was changed)");
            }

            expected = hash;
            Count++;
            return null;
        }

        private static string Short(string hash) => hash.Length > 16 ? hash[..16] + "…" : hash;
    }

    private static void Write(IBufferWriter<byte> output, JsonElement element, ReadOnlySpan<string> without)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var members = new List<(string Name, JsonElement Value)>();
                foreach (var property in element.EnumerateObject())
                {
                    var name = property.Name;
                    if (!without.Contains(name))
                    {
                        members.Add((name, property.Value));
                    }
                }

                // Stable, as OrderBy is: duplicate names (never in a record StrictJson accepted) keep their order.
                var ordered = members.Count < 2 ? members : [.. members.OrderBy(m => m.Name, StringComparer.Ordinal)];
                Put(output, "{"u8);
                for (var i = 0; i < ordered.Count; i++)
                {
                    if (i > 0)
                    {
                        Put(output, ","u8);
                    }

                    WriteString(output, ordered[i].Name);
                    Put(output, ":"u8);
                    Write(output, ordered[i].Value, []);
                }

                Put(output, "}"u8);
                break;
            case JsonValueKind.Array:
                Put(output, "["u8);
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (index++ > 0)
                    {
                        Put(output, ","u8);
                    }

                    Write(output, item, []);
                }

                Put(output, "]"u8);
                break;
            case JsonValueKind.String:
                WriteString(output, element.GetString()!);
                break;
            case JsonValueKind.Number:
                Put(output, JsonMarshal.GetRawUtf8Value(element));
                break;
            case JsonValueKind.True:
                Put(output, "true"u8);
                break;
            case JsonValueKind.False:
                Put(output, "false"u8);
                break;
            default:
                Put(output, "null"u8);
                break;
        }
    }

    private static void Put(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    /// <summary>
    /// A string: <c>"</c>, <c>\</c> and control characters escaped, every other run of characters as UTF-8 (a lone
    /// surrogate as U+FFFD, as encoding the whole text at once gives: a run never ends inside a pair).
    /// </summary>
    private static void WriteString(IBufferWriter<byte> output, string value)
    {
        Put(output, "\""u8);
        var text = value.AsSpan();
        while (!text.IsEmpty)
        {
            var stop = text.IndexOfAny(Escaped);
            var run = stop < 0 ? text : text[..stop];
            if (!run.IsEmpty)
            {
                var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(run.Length));
                output.Advance(Encoding.UTF8.GetBytes(run, span));
            }

            if (stop < 0)
            {
                break;
            }

            var c = text[stop];
            switch (c)
            {
                case '"':
                    Put(output, "\\\""u8);
                    break;
                case '\\':
                    Put(output, "\\\\"u8);
                    break;
                case '\b':
                    Put(output, "\\b"u8);
                    break;
                case '\f':
                    Put(output, "\\f"u8);
                    break;
                case '\n':
                    Put(output, "\\n"u8);
                    break;
                case '\r':
                    Put(output, "\\r"u8);
                    break;
                case '\t':
                    Put(output, "\\t"u8);
                    break;
                default:
                    var escape = output.GetSpan(6);
                    "\\u00"u8.CopyTo(escape);
                    escape[4] = Hex[c >> 4];
                    escape[5] = Hex[c & 0xF];
                    output.Advance(6);
                    break;
            }

            text = text[(stop + 1)..];
        }

        Put(output, "\""u8);
    }

    private static ReadOnlySpan<byte> Hex => "0123456789abcdef"u8;

    /// <summary>What a canonical string escapes: the quote, the backslash and the control characters U+0000 to U+001F.</summary>
    private static readonly SearchValues<char> Escaped = SearchValues.Create("\"\\" + string.Concat(Enumerable.Range(0, 0x20).Select(c => (char)c)));
}
