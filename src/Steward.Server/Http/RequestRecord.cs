using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Steward.Core.Json;

namespace Steward.Server.Http;

/// <summary>
/// A request body read into its record with the source-generated JSON of <see cref="ServerJsonContext"/>, then
/// validated by the record. The body is parsed strictly first (<see cref="RequestJson"/>: what is not JSON, or not an
/// object, is a 400 naming where). Its shape is then checked against the record's metadata: every unknown field and
/// every value of the wrong type is a problem at its path, and is left out of what the record is read from, so that the
/// record's validation still sees every other field and adds its own problems. The outcome is the validated value, or
/// one 422 listing every problem (<see cref="BodyCheck"/>).
/// </summary>
internal static class RequestRecord
{
    /// <summary>Reads the request body (at most <paramref name="maxBytes"/>, else a 413) as <see cref="Parse"/> reads it.</summary>
    public static async Task<Outcome<TResult>> ReadAsync<T, TResult>(HttpRequest request, int maxBytes, JsonTypeInfo<T> record,
        Func<T, BodyCheck, TResult?> validate, CancellationToken cancellationToken)
        where T : class
        where TResult : class
    {
        var body = await RequestBodies.ReadAsync(request, maxBytes, cancellationToken).ConfigureAwait(false);
        return body is null ? Outcome<TResult>.Refused(Problems.BodyOf(RequestBodies.TooLarge(maxBytes))) : Parse(body, record, validate);
    }

    /// <summary>A body already read, as <see cref="ReadAsync"/> reads the request's: over <paramref name="maxBytes"/>, a 413.</summary>
    public static Outcome<TResult> Parse<T, TResult>(byte[] body, int maxBytes, JsonTypeInfo<T> record, Func<T, BodyCheck, TResult?> validate)
        where T : class
        where TResult : class
    {
        ArgumentNullException.ThrowIfNull(body);
        return body.Length > maxBytes ? Outcome<TResult>.Refused(Problems.BodyOf(RequestBodies.TooLarge(maxBytes))) : Parse(body, record, validate);
    }

    /// <summary>
    /// A record the console built in C#, validated exactly as the same record read from a request's body would be: it is
    /// written as JSON (a null field is left out, so a field the console does not set counts as not given) and
    /// <see cref="Read"/>. The fields named in <paramref name="cleared"/> (by their JSON names) are given as <c>null</c>
    /// instead, as a client clears a field: a null in C# cannot tell "clear it" from "leave it". The console thus has no
    /// validation, and no write path, of its own.
    /// </summary>
    public static Outcome<TResult> Check<T, TResult>(T value, JsonTypeInfo<T> record, Func<T, BodyCheck, TResult?> validate, IReadOnlyCollection<string>? cleared = null)
        where T : class
        where TResult : class
    {
        ArgumentNullException.ThrowIfNull(value);
        if (cleared is not { Count: > 0 })
        {
            using var document = JsonSerializer.SerializeToDocument(value, record);
            return Read(document.RootElement, record, validate);
        }

        var body = JsonSerializer.SerializeToNode(value, record)!.AsObject();
        foreach (var name in cleared)
        {
            body[name] = null;
        }

        using var withNulls = JsonDocument.Parse(body.ToJsonString());
        return Read(withNulls.RootElement, record, validate);
    }

    /// <summary>A body already read: parsed, its shape checked, read into <typeparamref name="T"/> and validated.</summary>
    public static Outcome<TResult> Parse<T, TResult>(byte[] body, JsonTypeInfo<T> record, Func<T, BodyCheck, TResult?> validate)
        where T : class
        where TResult : class
    {
        using var document = RequestJson.Parse(body, out var refused);
        return document is null ? Outcome<TResult>.Refused(Problems.BodyOf(refused!)) : Read(document.RootElement, record, validate);
    }

    /// <summary>A body already parsed (the console's form, for one): its shape checked, read into <typeparamref name="T"/> and validated.</summary>
    public static Outcome<TResult> Read<T, TResult>(JsonElement root, JsonTypeInfo<T> record, Func<T, BodyCheck, TResult?> validate)
        where T : class
        where TResult : class
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(validate);
        if (root.ValueKind != JsonValueKind.Object)
        {
            return Outcome<TResult>.Refused(Problems.BodyOf(Problems.BadRequest("the body must be a JSON object")));
        }

        var check = new BodyCheck(root);
        Fit(root, "", record, check, out var fitting);
        var value = fitting!.Deserialize(record) ?? throw new InvalidOperationException($"{typeof(T).Name} read as null");
        var result = validate(value, check);
        if (check.Problem() is { } problem)
        {
            return Outcome<TResult>.Refused(problem);
        }

        return Outcome<TResult>.Done(result ?? throw new InvalidOperationException($"the validation of {typeof(T).Name} gave neither a value nor a problem"));
    }

    /// <summary>The names of the record's fields, in the order it declares them.</summary>
    public static IReadOnlyList<string> Fields(JsonTypeInfo record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return [.. record.Properties.Select(p => p.Name)];
    }

    /// <summary>
    /// Whether <paramref name="element"/> fits <paramref name="type"/>; <paramref name="node"/> is it with what does not
    /// fit inside it left out. Each misfit is reported at its path. An array with a misfit does not fit as a whole, so
    /// that the indices the problems name are never those of a shortened array.
    /// </summary>
    private static bool Fit(JsonElement element, string path, JsonTypeInfo type, BodyCheck check, out JsonNode? node)
    {
        node = null;
        if (element.ValueKind == JsonValueKind.Null)
        {
            if (type.Type.IsValueType && Nullable.GetUnderlyingType(type.Type) is null)
            {
                check.Add(path, $"expected {Expected(type)}, found null", "null");
                return false;
            }

            return true;
        }

        switch (type.Kind)
        {
            case JsonTypeInfoKind.Object when element.ValueKind == JsonValueKind.Object:
                node = FitObject(element, path, type, check);
                return true;
            case JsonTypeInfoKind.Enumerable when element.ValueKind == JsonValueKind.Array:
                var array = new JsonArray();
                var fits = true;
                var index = 0;
                var itemType = type.Options.GetTypeInfo(type.ElementType!);
                foreach (var item in element.EnumerateArray())
                {
                    fits &= Fit(item, JsonPath.Index(path, index++), itemType, check, out var fitted);
                    array.Add(fitted);
                }

                node = array;
                return fits;
            case JsonTypeInfoKind.Dictionary when element.ValueKind == JsonValueKind.Object:
                var map = new JsonObject();
                var valueType = type.Options.GetTypeInfo(type.ElementType!);
                foreach (var member in element.EnumerateObject())
                {
                    if (Fit(member.Value, JsonPath.Field(path, member.Name), valueType, check, out var fitted))
                    {
                        map[member.Name] = fitted;
                    }
                }

                node = map;
                return true;
            case JsonTypeInfoKind.None when Fits(element, type):
                // A JsonElement field takes any value as it came, an object or an array too (which no JsonValue holds).
                node = element.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? JsonNode.Parse(element.GetRawText()) : JsonValue.Create(element.Clone());
                return true;
            default:
                check.Add(path, $"expected {Expected(type)}, found {JsonKinds.Describe(element)}", element.GetRawText());
                return false;
        }
    }

    /// <summary>An object's known fields that fit; its unknown fields are reported first, as a body's first problem is usually a misspelt name.</summary>
    private static JsonObject FitObject(JsonElement element, string path, JsonTypeInfo type, BodyCheck check)
    {
        var properties = type.Properties.ToDictionary(p => p.Name, StringComparer.Ordinal);
        // A body of an API others define (the official registry's) may carry members a later version adds: a record
        // marked [JsonUnmappedMemberHandling(Skip)] passes over them, as the official registry itself does.
        var tolerant = type.UnmappedMemberHandling == System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;
        foreach (var member in element.EnumerateObject())
        {
            if (!tolerant && !properties.ContainsKey(member.Name))
            {
                check.Add(JsonPath.Field(path, member.Name), $"unknown field; expected one of {string.Join(", ", properties.Keys)}");
            }
        }

        var fitted = new JsonObject();
        foreach (var member in element.EnumerateObject())
        {
            if (properties.TryGetValue(member.Name, out var property)
                && Fit(member.Value, JsonPath.Field(path, member.Name), type.Options.GetTypeInfo(property.PropertyType), check, out var value))
            {
                fitted[member.Name] = value;
            }
        }

        return fitted;
    }

    /// <summary>Whether a value that is not an object or an array reads as <paramref name="type"/> (a string, a whole number, …).</summary>
    private static bool Fits(JsonElement element, JsonTypeInfo type)
    {
        var clr = Nullable.GetUnderlyingType(type.Type) ?? type.Type;
        if (clr == typeof(string))
        {
            return element.ValueKind == JsonValueKind.String;
        }

        if (clr == typeof(bool))
        {
            return element.ValueKind is JsonValueKind.True or JsonValueKind.False;
        }

        if (clr == typeof(long))
        {
            return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out _);
        }

        if (clr == typeof(int))
        {
            return element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out _);
        }

        if (clr == typeof(JsonElement))
        {
            return true;
        }

        try
        {
            _ = JsonSerializer.Deserialize(element, type);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Expected(JsonTypeInfo type)
    {
        var clr = Nullable.GetUnderlyingType(type.Type) ?? type.Type;
        return type.Kind switch
        {
            JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary => "an object",
            JsonTypeInfoKind.Enumerable => "an array",
            _ when clr == typeof(string) => "a string",
            _ when clr == typeof(bool) => "true or false",
            _ when clr == typeof(long) || clr == typeof(int) => "a whole number",
            _ => "a " + clr.Name,
        };
    }
}
