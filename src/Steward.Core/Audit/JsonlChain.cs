using System.Buffers;
using System.Text;
using System.Text.Json;
using Steward.Core.Json;

namespace Steward.Core.Audit;

/// <summary>The outcome of verifying a JSONL audit log: the lines checked, the head hash, and the first broken line (1-based) if any.</summary>
public sealed record JsonlVerification(long Records, string Head, long? BrokenLine, string? Reason)
{
    public bool Intact => BrokenLine is null;
}

/// <summary>
/// The <see cref="HashChain"/> over a JSONL log: each line is one JSON object carrying <c>prevHash</c> and <c>hash</c>.
/// <see cref="Seal"/> is what a writer calls (with the previous line's hash, <see cref="HashChain.Genesis"/> for the first);
/// <see cref="Verify"/> is <c>steward audit verify --file</c>. Blank lines are skipped; a line that is not a JSON object
/// breaks the chain there.
/// </summary>
public static class JsonlChain
{
    /// <summary>Limits for one line: a log line is small, and a huge or deep one is refused rather than parsed.</summary>
    public static readonly JsonLimits LineLimits = new() { MaxBytes = 1024 * 1024, MaxDepth = 64 };

    /// <summary>
    /// <paramref name="record"/> (a JSON object without <c>prevHash</c>/<c>hash</c>) with both appended, as one line
    /// without the newline; the new hash is returned for the next call.
    /// </summary>
    public static (string Line, string Hash) Seal(string record, string previousHash)
    {
        ArgumentNullException.ThrowIfNull(record);
        var line = new ArrayBufferWriter<byte>(record.Length + 160);
        var hash = Seal(Encoding.UTF8.GetBytes(record.Trim()), previousHash, line);
        return (Encoding.UTF8.GetString(line.WrittenSpan), hash);
    }

    /// <summary>
    /// <see cref="Seal(string, string)"/> over UTF-8: the sealed line is appended to <paramref name="line"/> (without the
    /// newline) and its hash returned. What the gateway's audit log calls with the bytes it has just written, so a line
    /// is parsed once and never turned into text.
    /// </summary>
    /// <exception cref="FormatException">The record is not one JSON object, or has a member name twice.</exception>
    public static string Seal(ReadOnlyMemory<byte> record, string previousHash, IBufferWriter<byte> line)
    {
        ArgumentNullException.ThrowIfNull(previousHash);
        ArgumentNullException.ThrowIfNull(line);
        var trimmed = record.Trim(Whitespace);
        var parsed = StrictJson.Parse(trimmed);
        using var document = parsed.Document;
        if (document is null || parsed.Duplicates.Count > 0)
        {
            throw new FormatException(parsed.Failure?.ToString() ?? "the record has a duplicate member name");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("an audit record must be a JSON object");
        }

        var canonical = new ArrayBufferWriter<byte>(trimmed.Length);
        HashChain.WriteCanonical(document.RootElement, canonical, HashChain.PrevHashField, HashChain.HashField);
        var hash = HashChain.Link(previousHash, canonical.WrittenSpan);

        var body = trimmed.Span[1..^1].Trim(Whitespace);
        Put(line, "{"u8);
        Put(line, body);
        Put(line, body.IsEmpty ? "\""u8 : ",\""u8);
        Put(line, Encoding.UTF8.GetBytes(HashChain.PrevHashField));
        Put(line, "\":\""u8);
        Put(line, Encoding.UTF8.GetBytes(previousHash));
        Put(line, "\",\""u8);
        Put(line, Encoding.UTF8.GetBytes(HashChain.HashField));
        Put(line, "\":\""u8);
        Put(line, Encoding.UTF8.GetBytes(hash));
        Put(line, "\"}"u8);
        return hash;
    }

    /// <summary>JSON's whitespace, which a record may have around it and inside its braces.</summary>
    private static ReadOnlySpan<byte> Whitespace => " \t\r\n"u8;

    private static void Put(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    /// <summary>The hash of the last line of an existing log (to continue its chain), or <see cref="HashChain.Genesis"/> when it has none.</summary>
    public static string HeadOf(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var last = lines.LastOrDefault(l => !string.IsNullOrWhiteSpace(l));
        if (last is null)
        {
            return HashChain.Genesis;
        }

        using var document = JsonDocument.Parse(last);
        return document.RootElement.TryGetProperty(HashChain.HashField, out var hash) && hash.ValueKind == JsonValueKind.String ? hash.GetString()! : HashChain.Genesis;
    }

    public static JsonlVerification Verify(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var verifier = new HashChain.Verifier();
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var parsed = StrictJson.Parse(Encoding.UTF8.GetBytes(line), LineLimits);
            using var document = parsed.Document;
            if (document is null || document.RootElement.ValueKind != JsonValueKind.Object || parsed.Duplicates.Count > 0)
            {
                var why = parsed.Failure?.ToString() ?? (parsed.Duplicates.Count > 0 ? parsed.Duplicates[0].Message : "not a JSON object");
                return new JsonlVerification(verifier.Count, verifier.Head, lineNumber, $"the line is not a JSON audit record: {why}");
            }

            var root = document.RootElement;
            var prev = root.TryGetProperty(HashChain.PrevHashField, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            var hash = root.TryGetProperty(HashChain.HashField, out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
            var canonical = HashChain.Canonical(root, HashChain.PrevHashField, HashChain.HashField);
            if (verifier.Add(canonical, prev, hash) is { } broken)
            {
                return new JsonlVerification(verifier.Count, verifier.Head, lineNumber, broken.Reason);
            }
        }

        return new JsonlVerification(verifier.Count, verifier.Head, null, null);
    }
}
