namespace Steward.Server.Http;

/// <summary>
/// A request body while its record is validated: which fields it gave (to tell a <c>null</c> from an absent field), and
/// every problem found so far, each at its JSON path (<c>name</c>, <c>rules[2].pattern</c>) — first the shape
/// <see cref="RequestRecord"/> checks (unknown fields, values of the wrong type), then what the record's own validation
/// finds. The answer is one 422 listing them all, so that a client fixes a body in one pass.
/// </summary>
internal sealed class BodyCheck(JsonElement root)
{
    private readonly List<ProblemItem> _items = [];

    public int Count => _items.Count;

    /// <summary>Whether the body has the top-level field <paramref name="name"/>, whatever its value (<c>null</c> included).</summary>
    public bool Given(string name) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out _);

    /// <summary>
    /// A problem at <paramref name="path"/>; <paramref name="value"/> is the value at fault as JSON text, when there is one.
    /// A path from the root (<c>$.toolRules[2].pattern</c>, as the tool rules' own reader names them) is kept as written,
    /// so that its problem reads as it does wherever those rules are read.
    /// </summary>
    public void Add(string path, string message, string? value = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var relative = path.StartsWith('$') ? path.TrimStart('$').TrimStart('.') : path;
        _items.Add(new ProblemItem { Location = RequestJson.Location(relative), Path = path, Message = message, Value = value });
    }

    /// <summary>
    /// Whether a problem was reported at <paramref name="path"/> or inside it: its value did not reach the record, and
    /// the record's validation does not report it again (as missing, say).
    /// </summary>
    public bool Reported(string path) => _items.Exists(item => item.Path is { } at && at.StartsWith(path, StringComparison.Ordinal)
        && (at.Length == path.Length || at[path.Length] is '.' or '['));

    /// <summary>
    /// The text field <paramref name="field"/> trimmed, when it is 1 to <paramref name="maxLength"/> characters; else null,
    /// and <paramref name="message"/> reported at the field when it was given (or, <paramref name="required"/>, left out),
    /// unless its value was already reported as of the wrong type.
    /// </summary>
    public string? Text(string field, string? value, int maxLength, string message, bool required = false)
    {
        if (value?.Trim() is { Length: > 0 } trimmed && trimmed.Length <= maxLength)
        {
            return trimmed;
        }

        var given = Given(field);
        if ((given || required) && !Reported(field))
        {
            Add(field, message, given ? Json(value) ?? "null" : null);
        }

        return null;
    }

    /// <summary>
    /// The field <paramref name="field"/> as given when the whole of it matches <paramref name="pattern"/> (a slug, say);
    /// else null, and <paramref name="message"/> reported at the field, unless its value was already reported as of the
    /// wrong type. The field is required.
    /// </summary>
    public string? Matching(string field, string? value, System.Text.RegularExpressions.Regex pattern, string message)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (value is not null && pattern.IsMatch(value))
        {
            return value;
        }

        if (!Reported(field))
        {
            Add(field, message, Given(field) ? Json(value) ?? "null" : null);
        }

        return null;
    }

    /// <summary>
    /// The list of names <paramref name="field"/> (group names, say): each trimmed, without repeats in any case, in
    /// ordinal order, so that two lists naming the same groups are equal. Left out, it is empty (or, <paramref name="required"/>,
    /// reported); given, it must hold at most <paramref name="max"/> names of 1 to 200 characters, else null and
    /// <paramref name="message"/> reported at the field, unless a name was already reported as of the wrong type.
    /// </summary>
    public List<string>? Names(string field, IReadOnlyList<string?>? values, int max, string message, bool required = false)
    {
        var given = Given(field);
        if (Reported(field) || (!given && !required))
        {
            return given ? null : [];
        }

        if (values is null || values.Count > max || values.Any(v => v?.Trim() is not { Length: > 0 and <= 200 }))
        {
            Add(field, message, values is null ? given ? "null" : null : System.Text.Encoding.UTF8.GetString(ResponseJson.Write(w =>
            {
                w.WriteStartArray();
                foreach (var value in values)
                {
                    w.WriteStringValue(value);
                }

                w.WriteEndArray();
            })));
            return null;
        }

        return [.. values.Select(v => v!.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The flag <paramref name="field"/>: its value, or null when it was left out, or given as <c>null</c> (which is
    /// reported: a flag is true or false), or already reported as of the wrong type.
    /// </summary>
    public bool? Flag(string field, bool? value)
    {
        if (value is null && Given(field) && !Reported(field))
        {
            Add(field, "expected true or false", "null");
        }

        return value;
    }

    /// <summary>
    /// The whole number <paramref name="field"/> when it is from <paramref name="min"/> to <paramref name="max"/>; else
    /// null, and <paramref name="message"/> reported at the field when it was given (<c>null</c> included) or,
    /// <paramref name="required"/>, left out, unless its value was already reported as of the wrong type.
    /// </summary>
    public long? Whole(string field, long? value, long min, long max, string message, bool required = false)
    {
        if (value is { } number && number >= min && number <= max)
        {
            return number;
        }

        var given = Given(field);
        if ((given || required) && !Reported(field))
        {
            Add(field, message, given ? value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null" : null);
        }

        return null;
    }

    /// <summary>
    /// The 422 listing every problem, or null when there is none. Its detail names each with its path
    /// (<c>name: expected …; role: expected admin or developer</c>), so a client that shows only the detail still shows all.
    /// </summary>
    public ProblemBody? Problem() => _items.Count == 0
        ? null
        : Problems.Body(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", string.Join("; ", _items.Select(i => $"{i.Path}: {i.Message}")), [.. _items]);

    /// <summary>
    /// The 422 naming one field of a body found wrong after the body was read (an account no organisation has, an issuer
    /// that does not answer): the same shape as the answer listing a body's problems, its item at <paramref name="path"/>.
    /// </summary>
    public static ProblemBody One(string path, string message, string? value = null)
    {
        var check = new BodyCheck(default);
        check.Add(path, message, value);
        return check.Problem()!;
    }

    /// <summary>A string as JSON text, for a problem's value.</summary>
    public static string? Json(string? text) => text is null ? null : System.Text.Encoding.UTF8.GetString(ResponseJson.Write(w => w.WriteStringValue(text)));
}
