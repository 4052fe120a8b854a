using System.Text.Json;
using Steward.Core.Validation;

namespace Steward.Core.Json;

/// <summary>
/// Reads typed fields out of a JSON object, reporting every wrong type or missing required field as a problem
/// at its path instead of throwing, so that one pass over a document finds everything wrong with it.
/// </summary>
internal readonly struct ElementReader(JsonElement element, string path, List<Problem> problems)
{
    public JsonElement Element { get; } = element;
    public string Path { get; } = path;
    public List<Problem> Problems { get; } = problems;

    public bool Has(string name) => Element.TryGetProperty(name, out _);

    public string At(string name) => JsonPath.Field(Path, name);

    public string? String(string name, bool required = false, bool allowEmpty = false)
    {
        if (!Element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Problems.Add(Missing(At(name), name));
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            Problems.Add(WrongType(At(name), "a string", value));
            return null;
        }

        var text = value.GetString()!;
        if (required && !allowEmpty && text.Length == 0)
        {
            Problems.Add(Problem.Error(At(name), "schema.required", $"\"{name}\" must not be empty", $"give \"{name}\" a value"));
        }

        return text;
    }

    public bool? Bool(string name)
    {
        if (!Element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetBoolean();
        }

        Problems.Add(WrongType(At(name), "true or false", value));
        return null;
    }

    public IReadOnlyList<string>? Strings(string name)
    {
        if (!TryArray(name, out var array))
        {
            return null;
        }

        var list = new List<string>(array.GetArrayLength());
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                list.Add(item.GetString()!);
            }
            else
            {
                Problems.Add(WrongType(JsonPath.Index(At(name), i), "a string", item));
            }

            i++;
        }

        return list;
    }

    /// <summary>An array of objects, each mapped by <paramref name="map"/>; items that are not objects are reported and skipped.</summary>
    public IReadOnlyList<T>? Objects<T>(string name, Func<ElementReader, T?> map)
        where T : class
    {
        if (!TryArray(name, out var array))
        {
            return null;
        }

        var list = new List<T>(array.GetArrayLength());
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var itemPath = JsonPath.Index(At(name), i++);
            if (item.ValueKind != JsonValueKind.Object)
            {
                Problems.Add(WrongType(itemPath, "an object", item));
                continue;
            }

            if (map(new ElementReader(item, itemPath, Problems)) is { } mapped)
            {
                list.Add(mapped);
            }
        }

        return list;
    }

    /// <summary>An object used as a map from names to objects.</summary>
    public IReadOnlyDictionary<string, T>? Map<T>(string name, Func<ElementReader, T?> map)
        where T : class
    {
        if (!Element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Problems.Add(WrongType(At(name), "an object", value));
            return null;
        }

        var dictionary = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject())
        {
            var itemPath = JsonPath.Field(At(name), property.Name);
            if (property.Value.ValueKind != JsonValueKind.Object)
            {
                Problems.Add(WrongType(itemPath, "an object", property.Value));
                continue;
            }

            if (map(new ElementReader(property.Value, itemPath, Problems)) is { } mapped)
            {
                dictionary[property.Name] = mapped;
            }
        }

        return dictionary;
    }

    public ElementReader? Object(string name, bool required = false)
    {
        if (!Element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Problems.Add(Missing(At(name), name));
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Problems.Add(WrongType(At(name), "an object", value));
            return null;
        }

        return new ElementReader(value, At(name), Problems);
    }

    /// <summary>A property kept as raw JSON (cloned so it outlives the document), when it is an object.</summary>
    public JsonElement? RawObject(string name)
    {
        if (!Element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Problems.Add(WrongType(At(name), "an object", value));
            return null;
        }

        return value.Clone();
    }

    public DateTimeOffset? Timestamp(string name)
    {
        var text = String(name);
        if (text is null)
        {
            return null;
        }

        if (Rfc3339.TryParse(text, out var value))
        {
            return value;
        }

        Problems.Add(Problem.Error(At(name), "schema.format", $"\"{text}\" is not an RFC 3339 date-time", "write it like 2025-01-31T10:30:00Z"));
        return null;
    }

    private bool TryArray(string name, out JsonElement array)
    {
        array = default;
        if (!Element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            Problems.Add(WrongType(At(name), "an array", value));
            return false;
        }

        array = value;
        return true;
    }

    public static Problem Missing(string path, string name) =>
        Problem.Error(path, "schema.required", $"\"{name}\" is required", $"add \"{name}\"");

    public static Problem WrongType(string path, string expected, JsonElement found) =>
        Problem.Error(path, "schema.type", $"must be {expected}, found {Describe(found)}", $"write {expected} here");

    public static string Describe(JsonElement value) => JsonKinds.Describe(value);
}
