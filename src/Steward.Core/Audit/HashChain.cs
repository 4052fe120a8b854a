using System.Globalization;
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

    /// <summary>The canonical JSON of <paramref name="element"/>, leaving out the top-level members named in <paramref name="without"/>.</summary>
    public static string Canonical(JsonElement element, params string[] without)
    {
        ArgumentNullException.ThrowIfNull(without);
        var builder = new StringBuilder();
        Write(builder, element, without);
        return builder.ToString();
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

    private static void Write(StringBuilder builder, JsonElement element, string[] without)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                builder.Append('{');
                var first = true;
                foreach (var property in element.EnumerateObject().Where(p => !without.Contains(p.Name, StringComparer.Ordinal)).OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        builder.Append(',');
                    }

                    first = false;
                    WriteString(builder, property.Name);
                    builder.Append(':');
                    Write(builder, property.Value, []);
                }

                builder.Append('}');
                break;
            case JsonValueKind.Array:
                builder.Append('[');
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (index++ > 0)
                    {
                        builder.Append(',');
                    }

                    Write(builder, item, []);
                }

                builder.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(builder, element.GetString()!);
                break;
            case JsonValueKind.Number:
                builder.Append(element.GetRawText());
                break;
            case JsonValueKind.True:
                builder.Append("true");
                break;
            case JsonValueKind.False:
                builder.Append("false");
                break;
            default:
                builder.Append("null");
                break;
        }
    }

    private static void WriteString(StringBuilder builder, string value)
    {
        builder.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    builder.Append("\\\"");
                    break;
                case '\\':
                    builder.Append("\\\\");
                    break;
                case '\b':
                    builder.Append("\\b");
                    break;
                case '\f':
                    builder.Append("\\f");
                    break;
                case '\n':
                    builder.Append("\\n");
                    break;
                case '\r':
                    builder.Append("\\r");
                    break;
                case '\t':
                    builder.Append("\\t");
                    break;
                default:
                    if (c < 0x20)
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append('"');
    }
}
