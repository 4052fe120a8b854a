using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;
using Steward.Core.Validation;

namespace Steward.Core.Json;

/// <summary>Limits applied before a byte is interpreted: size and nesting.</summary>
public sealed record JsonLimits
{
    public const long DefaultMaxBytes = 20L * 1024 * 1024;
    public const int DefaultMaxDepth = 64;

    public long MaxBytes { get; init; } = DefaultMaxBytes;
    public int MaxDepth { get; init; } = DefaultMaxDepth;

    public static JsonLimits Default { get; } = new();
}

public enum ReadFailureKind
{
    NotJson,
    TooLarge,
    TooDeep,
    Unreadable,
}

/// <summary>
/// Why a document could not be read at all (as opposed to read and found invalid). <see cref="Path"/> is the JSON path
/// of the value at fault when one is known (<c>servers[0].name</c>; empty for the document itself).
/// </summary>
public sealed record ReadFailure(ReadFailureKind Kind, string Message, long? Line = null, long? Column = null, string? Path = null)
{
    /// <summary>The path in <c>$</c> notation: <c>$.servers[0].name</c>, <c>$</c> for the document; null when not known.</summary>
    public string? DollarPath => Path is null ? null : Path.Length == 0 ? "$" : Path[0] == '[' ? "$" + Path : "$." + Path;

    public override string ToString()
    {
        var text = DollarPath is { } at ? $"{at}: {Message}" : Message;
        return Line is { } line ? $"{text} (line {line}, column {Column})" : text;
    }
}

/// <summary>
/// Parses JSON strictly: UTF-8 (a byte order mark is accepted), no comments, no trailing commas, a size and depth limit,
/// and duplicate property names reported as errors with their path and position, since a document where one key
/// means two things is ambiguous.
/// </summary>
public static class StrictJson
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    public sealed record Result(JsonDocument? Document, ReadFailure? Failure, IReadOnlyList<Problem> Duplicates);

    public static Result Parse(ReadOnlyMemory<byte> utf8, JsonLimits? limits = null)
    {
        limits ??= JsonLimits.Default;
        if (utf8.Length > limits.MaxBytes)
        {
            return Fail(new ReadFailure(ReadFailureKind.TooLarge,
                $"the document is {utf8.Length.ToString("N0", CultureInfo.InvariantCulture)} bytes, over the limit of {limits.MaxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes; split it, or raise the limit (--max-bytes)"));
        }

        if (utf8.Span.StartsWith(Utf8Bom))
        {
            utf8 = utf8[Utf8Bom.Length..];
        }

        if (utf8.Span.Trim(" \t\r\n"u8).IsEmpty)
        {
            return Fail(new ReadFailure(ReadFailureKind.NotJson, "the document is empty; expected a JSON object or array"));
        }

        if (CheckText(utf8.Span, limits) is { } text)
        {
            return Fail(text);
        }

        var options = new JsonDocumentOptions { MaxDepth = limits.MaxDepth, AllowDuplicateProperties = false };
        try
        {
            return new Result(JsonDocument.Parse(utf8, options), null, []);
        }
        catch (JsonException)
        {
            // The fast path failed: find out why, with positions, by scanning the bytes ourselves.
        }

        var scan = Scan(utf8.Span, limits.MaxDepth);
        if (scan.Failure is not null)
        {
            return Fail(scan.Failure);
        }

        try
        {
            var lenient = options with { AllowDuplicateProperties = true };
            return new Result(JsonDocument.Parse(utf8, lenient), null, scan.Duplicates);
        }
        catch (JsonException e)
        {
            return Fail(new ReadFailure(ReadFailureKind.NotJson, "not valid JSON: " + StripPosition(e.Message), Line(e), Column(e)));
        }
    }

    private static Result Fail(ReadFailure failure) => new(null, failure, []);

    private sealed record ScanResult(ReadFailure? Failure, IReadOnlyList<Problem> Duplicates);

    private sealed class Frame(bool isObject, string path)
    {
        public bool IsObject { get; } = isObject;
        public string Path { get; } = path;
        public int NextIndex { get; set; }
        public string? PendingName { get; set; }
        public HashSet<string>? Names { get; set; }
    }

    private static ScanResult Scan(ReadOnlySpan<byte> utf8, int maxDepth)
    {
        var duplicates = new List<Problem>();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Disallow });
        var stack = new Stack<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                    {
                        var frame = stack.Peek();
                        var name = reader.GetString()!;
                        frame.Names ??= new HashSet<string>(StringComparer.Ordinal);
                        if (!frame.Names.Add(name))
                        {
                            var (line, column) = Position(utf8, reader.TokenStartIndex);
                            duplicates.Add(Problem.Error(JsonPath.Field(frame.Path, name), "json.duplicate-key",
                                $"the property \"{name}\" appears more than once in the same object (line {line}, column {column})",
                                "keep exactly one; a reader cannot know which of the two was meant"));
                        }

                        frame.PendingName = name;
                        break;
                    }

                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        stack.Push(new Frame(reader.TokenType == JsonTokenType.StartObject, ChildPath(stack)));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        stack.Pop();
                        break;
                    default:
                        ChildPath(stack);
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            var (line, column) = Position(utf8, reader.BytesConsumed);
            var kind = e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase) ? ReadFailureKind.TooDeep : ReadFailureKind.NotJson;
            var message = kind == ReadFailureKind.TooDeep
                ? $"the document is nested more than {maxDepth} levels deep; flatten it"
                : "not valid JSON: " + StripPosition(e.Message);
            return new ScanResult(new ReadFailure(kind, message, Line(e) ?? line, Column(e) ?? column), duplicates);
        }

        return new ScanResult(null, duplicates);
    }

    /// <summary>The path of the value that starts now, advancing the parent's index or consuming its pending name.</summary>
    private static string ChildPath(Stack<Frame> stack)
    {
        if (stack.Count == 0)
        {
            return "";
        }

        var parent = stack.Peek();
        if (parent.IsObject)
        {
            var name = parent.PendingName ?? "";
            parent.PendingName = null;
            return JsonPath.Field(parent.Path, name);
        }

        return JsonPath.Index(parent.Path, parent.NextIndex++);
    }

    private static (long Line, long Column) Position(ReadOnlySpan<byte> utf8, long offset)
    {
        offset = Math.Clamp(offset, 0, utf8.Length);
        var before = utf8[..(int)offset];
        var line = before.Count((byte)'\n') + 1;
        var lastNewline = before.LastIndexOf((byte)'\n');
        return (line, offset - lastNewline);
    }

    /// <summary>A cheap look for <c>\uD800</c>–<c>\uDFFF</c> escapes, the only way valid UTF-8 can still hold text that is not Unicode.</summary>
    private static bool HasSurrogateEscape(ReadOnlySpan<byte> utf8)
    {
        var at = 0;
        while ((at = utf8.IndexOf("\\u"u8)) >= 0)
        {
            utf8 = utf8[(at + 2)..];
            if (utf8.Length > 1 && (utf8[0] | 0x20) == 'd' && "89abcdefABCDEF"u8.Contains(utf8[1]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Why the text of a JSON document is not Unicode, with the path of the string at fault: bytes that are not UTF-8,
    /// or a <c>\u</c> escape that is a lone surrogate. Null when every string is Unicode (the syntax is not checked here).
    /// Cheap when the text is fine (one vectorised UTF-8 check and a scan for <c>\uD8</c>…<c>\uDF</c>), so a body
    /// passed on byte for byte can be checked without being parsed into a document.
    /// </summary>
    public static ReadFailure? CheckText(ReadOnlySpan<byte> utf8, JsonLimits? limits = null)
    {
        limits ??= JsonLimits.Default;
        if (utf8.StartsWith(Utf8Bom))
        {
            utf8 = utf8[Utf8Bom.Length..];
        }

        var valid = Utf8.IsValid(utf8);
        if (valid && !HasSurrogateEscape(utf8))
        {
            return null;
        }

        var found = NonUnicodeString(utf8, limits.MaxDepth);
        if (valid && found is null)
        {
            return null;
        }

        if (!valid && found is not { InvalidUtf8: true })
        {
            // Outside any string (or beyond a syntax error): the position is all there is.
            var (line, column) = Position(utf8, FirstInvalidUtf8(utf8));
            return new ReadFailure(ReadFailureKind.NotJson, "the document is not valid UTF-8; save it as UTF-8", line, column);
        }

        var (l, c) = Position(utf8, found!.Offset);
        var what = found.IsName ? "a property name" : "the string";
        return found.InvalidUtf8
            ? new ReadFailure(ReadFailureKind.NotJson, $"{what} is not valid UTF-8; send the text as UTF-8", l, c, found.Path)
            : new ReadFailure(ReadFailureKind.NotJson, $"{what} holds a \\u escape that is not valid Unicode (a lone surrogate); remove or complete it", l, c, found.Path);
    }

    private sealed record NonUnicode(string Path, long Offset, bool IsName, bool InvalidUtf8);

    /// <summary>The first string or property name that is not UTF-8 or holds a lone surrogate escape, with its path.</summary>
    private static NonUnicode? NonUnicodeString(ReadOnlySpan<byte> utf8, int maxDepth)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Disallow });
        var stack = new Stack<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                    {
                        var frame = stack.Peek();
                        if (Bad(ref reader) is { } invalidUtf8)
                        {
                            return new NonUnicode(frame.Path, reader.TokenStartIndex, true, invalidUtf8);
                        }

                        frame.PendingName = reader.GetString();
                        break;
                    }

                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        stack.Push(new Frame(reader.TokenType == JsonTokenType.StartObject, ChildPath(stack)));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        stack.Pop();
                        break;
                    case JsonTokenType.String:
                    {
                        var path = ChildPath(stack);
                        if (Bad(ref reader) is { } invalidUtf8)
                        {
                            return new NonUnicode(path, reader.TokenStartIndex, false, invalidUtf8);
                        }

                        break;
                    }

                    default:
                        ChildPath(stack);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // A syntax error: reported by the parser, with its own position.
        }

        return null;
    }

    /// <summary>Null when the current string token is Unicode; true when its bytes are not UTF-8; false when an escape is a lone surrogate.</summary>
    private static bool? Bad(ref Utf8JsonReader reader)
    {
        if (!Utf8.IsValid(reader.ValueSpan))
        {
            return true;
        }

        if (!reader.ValueIsEscaped)
        {
            return null;
        }

        try
        {
            _ = reader.GetString();
            return null;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> utf8)
    {
        Span<char> scratch = stackalloc char[256];
        var offset = 0;
        while (offset < utf8.Length)
        {
            var status = Utf8.ToUtf16(utf8[offset..], scratch, out var read, out _, replaceInvalidSequences: false, isFinalBlock: true);
            if (status == System.Buffers.OperationStatus.InvalidData)
            {
                return offset + read;
            }

            if (read == 0)
            {
                break;
            }

            offset += read;
        }

        return offset;
    }

    private static long? Line(JsonException e) => e.LineNumber is { } l ? l + 1 : null;

    private static long? Column(JsonException e) => e.BytePositionInLine is { } c ? c + 1 : null;

    private static string StripPosition(string message)
    {
        var at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (at < 0 ? message : message[..at]).TrimEnd();
    }
}
