using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Steward.Agent.Scan;

/// <summary>Where a member sits in a JSON text: its name's first byte (-1 for the root), and its value's byte range.</summary>
public readonly record struct JsonSpan(long NameStart, long ValueStart, long ValueEnd);

/// <summary>One member of an object, with where it sits.</summary>
public readonly record struct JsonMember(string Name, JsonSpan Span);

/// <summary>
/// Edits a JSON text in place: each edit replaces, inserts or removes only the bytes it must, so everything else in the
/// file (formatting, key order, comments in JSONC files, unknown keys) stays byte for byte. Positions come from
/// <see cref="Utf8JsonReader"/> over the current bytes (comments skipped, trailing commas allowed, as VS Code writes them).
/// A path is a list of property names from the root.
/// </summary>
public static class JsonTextEdit
{
    private static readonly JsonReaderOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 256 };

    /// <summary>The member at <paramref name="path"/>, or null when some step is missing or not an object.</summary>
    public static JsonSpan? Locate(ReadOnlySpan<byte> json, IReadOnlyList<string> path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var reader = new Utf8JsonReader(json, Options);
        if (!reader.Read())
        {
            return null;
        }

        long nameStart = -1;
        foreach (var segment in path)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            var found = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var start = reader.TokenStartIndex;
                var matches = reader.ValueTextEquals(segment);
                reader.Read();
                if (matches)
                {
                    nameStart = start;
                    found = true;
                    break;
                }

                reader.Skip();
            }

            if (!found)
            {
                return null;
            }
        }

        var valueStart = reader.TokenStartIndex;
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }

        return new JsonSpan(nameStart, valueStart, reader.BytesConsumed);
    }

    /// <summary>The members of the object at <paramref name="path"/>, in order; null when it is not an object.</summary>
    public static List<JsonMember>? Members(ReadOnlySpan<byte> json, IReadOnlyList<string> path)
    {
        if (Locate(json, path) is not { } span || json[(int)span.ValueStart] != (byte)'{')
        {
            return null;
        }

        var inner = json[(int)span.ValueStart..(int)span.ValueEnd];
        var reader = new Utf8JsonReader(inner, Options);
        reader.Read();
        var members = new List<JsonMember>();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            var start = reader.TokenStartIndex;
            reader.Read();
            var valueStart = reader.TokenStartIndex;
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }

            members.Add(new JsonMember(name, new JsonSpan(span.ValueStart + start, span.ValueStart + valueStart, span.ValueStart + reader.BytesConsumed)));
        }

        return members;
    }

    /// <summary>Replaces the value at <paramref name="path"/> with <paramref name="rawValue"/> (JSON text).</summary>
    public static byte[] ReplaceValue(byte[] json, IReadOnlyList<string> path, string rawValue)
    {
        ArgumentNullException.ThrowIfNull(json);
        var span = Locate(json, path) ?? throw new InvalidDataException($"{Describe(path)} is not in the file");
        return Splice(json, span.ValueStart, span.ValueEnd, rawValue);
    }

    /// <summary>Sets member <paramref name="name"/> of the object at <paramref name="objectPath"/>: its value replaced, or the member added first.</summary>
    public static byte[] SetMember(byte[] json, IReadOnlyList<string> objectPath, string name, string rawValue)
    {
        ArgumentNullException.ThrowIfNull(objectPath);
        return Locate(json, [.. objectPath, name]) is not null
            ? ReplaceValue(json, [.. objectPath, name], rawValue)
            : InsertMember(json, objectPath, name, rawValue);
    }

    /// <summary>Adds member <paramref name="name"/> as the first of the object at <paramref name="objectPath"/>, indented like its neighbours.</summary>
    public static byte[] InsertMember(byte[] json, IReadOnlyList<string> objectPath, string name, string rawValue)
    {
        ArgumentNullException.ThrowIfNull(json);
        var span = Locate(json, objectPath) ?? throw new InvalidDataException($"{Describe(objectPath)} is not in the file");
        if (json[span.ValueStart] != (byte)'{')
        {
            throw new InvalidDataException($"{Describe(objectPath)} is not an object");
        }

        var members = Members(json, objectPath)!;
        var member = Quote(name) + ": " + rawValue;
        if (members.Count == 0)
        {
            return Splice(json, span.ValueStart + 1, span.ValueStart + 1, member);
        }

        var first = members[0].Span.NameStart;
        var gap = Encoding.UTF8.GetString(json, (int)span.ValueStart + 1, (int)(first - span.ValueStart - 1));
        var newline = gap.LastIndexOf('\n');
        var separator = newline >= 0 ? "," + (gap.Contains('\r', StringComparison.Ordinal) ? "\r\n" : "\n") + gap[(newline + 1)..] : ", ";
        return Splice(json, first, first, member + separator);
    }

    /// <summary>Removes member <paramref name="name"/> of the object at <paramref name="objectPath"/> with its comma; returns the file and the value's text.</summary>
    public static (byte[] Json, string RawValue) RemoveMember(byte[] json, IReadOnlyList<string> objectPath, string name)
    {
        ArgumentNullException.ThrowIfNull(json);
        var members = Members(json, objectPath) ?? throw new InvalidDataException($"{Describe(objectPath)} is not an object in the file");
        var index = members.FindIndex(m => m.Name == name);
        if (index < 0)
        {
            throw new InvalidDataException($"{Describe([.. objectPath, name])} is not in the file");
        }

        var span = members[index].Span;
        var raw = Encoding.UTF8.GetString(json, (int)span.ValueStart, (int)(span.ValueEnd - span.ValueStart));
        var (from, to) = index + 1 < members.Count
            ? (span.NameStart, members[index + 1].Span.NameStart)
            : index > 0 ? (members[index - 1].Span.ValueEnd, span.ValueEnd) : (span.NameStart, span.ValueEnd);
        return (Splice(json, from, to, ""), raw);
    }

    /// <summary>A JSON string literal for <paramref name="value"/>, escaping only what JSON requires.</summary>
    public static string Quote(string value) =>
        "\"" + JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString() + "\"";

    private static byte[] Splice(byte[] json, long from, long to, string insert)
    {
        var bytes = Encoding.UTF8.GetBytes(insert);
        var result = new byte[json.Length - (to - from) + bytes.Length];
        json.AsSpan(0, (int)from).CopyTo(result);
        bytes.CopyTo(result, (int)from);
        json.AsSpan((int)to).CopyTo(result.AsSpan((int)from + bytes.Length));
        return result;
    }

    private static string Describe(IReadOnlyList<string> path) => path.Count == 0 ? "the root" : string.Join(".", path);
}
