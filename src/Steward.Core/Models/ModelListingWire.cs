using System.Text.Json;

namespace Steward.Core.Models;

/// <summary>
/// One model as every listing shows it (the developer listing <c>GET /api/v1/models</c>, the admin view, the policy
/// bundle's <c>models</c>). <paramref name="Scope"/> null: an automatic model (chosen per task). <paramref name="State"/>
/// only in the admin view (<c>enabled</c>, <c>disabled</c>, <c>new</c>, <c>uncontrolled</c>). <paramref name="Placement"/>,
/// <paramref name="ProviderModelId"/> and <paramref name="ResolvesTo"/> only for an available model.
/// </summary>
public sealed record ListedModel(
    string Id,
    string DisplayName,
    string Description,
    string Provider,
    string Status,
    string? Scope,
    IReadOnlyList<string> Geographies,
    IReadOnlyList<string> Aliases,
    bool OpenWeights,
    string? State,
    bool Available,
    string? Reason,
    bool IsDefault,
    string? Placement = null,
    string? ProviderModelId = null,
    string? ResolvesTo = null,
    string? Successor = null,
    string? RetiresOn = null);

/// <summary>The configured default is unavailable: what stands in (<paramref name="Actual"/>, null for nothing) and why, said to the developer as <paramref name="Message"/>.</summary>
public sealed record ListedFallback(string? Requested, string? Actual, string Reason, string Message);

/// <summary>The developer listing, <c>GET /api/v1/models</c>: whose it is, the default and the models.</summary>
public sealed record ModelsListing(
    string Organisation,
    string? Account,
    IReadOnlyList<string> Groups,
    string Revision,
    bool ControlEnabled,
    string? DefaultModel,
    ListedFallback? DefaultFallback,
    IReadOnlyList<ListedModel> Models);

/// <summary>A listing that is not what this reader knows, with the JSON path of the first thing wrong.</summary>
public sealed class ModelListingException(string path, string message) : Exception($"{path}: {message}")
{
    public string Path { get; } = path;
}

/// <summary>
/// The wire form of the models listing, written by the server and read by <c>steward models list</c>, in one place. The
/// writer keeps the members every client has read (nulls written where they always were); the reader accepts members it
/// does not know, so a newer server's additions do not break an older client.
/// </summary>
public static class ModelListingWire
{
    public static void Write(Utf8JsonWriter w, ModelsListing listing)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(listing);
        w.WriteStartObject();
        w.WriteString("organisation", listing.Organisation);
        NullableString(w, "account", listing.Account);
        Strings(w, "groups", listing.Groups);
        w.WriteString("revision", listing.Revision);
        w.WriteBoolean("controlEnabled", listing.ControlEnabled);
        WriteDefault(w, listing.DefaultModel, listing.DefaultFallback);
        w.WriteStartArray("models");
        foreach (var model in listing.Models)
        {
            WriteModel(w, model);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary><c>defaultModel</c> and <c>defaultFallback</c> (null while the default is available), into an open object.</summary>
    public static void WriteDefault(Utf8JsonWriter w, string? defaultModel, ListedFallback? fallback)
    {
        ArgumentNullException.ThrowIfNull(w);
        NullableString(w, "defaultModel", defaultModel);
        if (fallback is null)
        {
            w.WriteNull("defaultFallback");
            return;
        }

        w.WriteStartObject("defaultFallback");
        NullableString(w, "requested", fallback.Requested);
        NullableString(w, "actual", fallback.Actual);
        w.WriteString("reason", fallback.Reason);
        w.WriteString("message", fallback.Message);
        w.WriteEndObject();
    }

    public static void WriteModel(Utf8JsonWriter w, ListedModel model)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(model);
        w.WriteStartObject();
        w.WriteString("id", model.Id);
        w.WriteString("displayName", model.DisplayName);
        w.WriteString("description", model.Description);
        w.WriteString("provider", model.Provider);
        w.WriteString("status", model.Status);
        NullableString(w, "scope", model.Scope);
        Strings(w, "geographies", model.Geographies);
        Strings(w, "aliases", model.Aliases);
        w.WriteBoolean("openWeights", model.OpenWeights);
        if (model.State is not null)
        {
            w.WriteString("state", model.State);
        }

        w.WriteBoolean("available", model.Available);
        NullableString(w, "reason", model.Reason);
        w.WriteBoolean("default", model.IsDefault);
        if (model.Available)
        {
            NullableString(w, "placement", model.Placement);
            NullableString(w, "providerModelId", model.ProviderModelId);
            if (model.ResolvesTo is not null)
            {
                w.WriteString("resolvesTo", model.ResolvesTo);
            }
        }

        if (model.Successor is not null)
        {
            w.WriteString("successor", model.Successor);
        }

        if (model.RetiresOn is not null)
        {
            w.WriteString("retiresOn", model.RetiresOn);
        }

        w.WriteEndObject();
    }

    /// <summary>The developer listing, or <see cref="ModelListingException"/> naming the first member that is missing or of the wrong kind.</summary>
    public static ModelsListing Read(JsonElement root)
    {
        Expect(root, JsonValueKind.Object, "$", "an object");
        var models = new List<ListedModel>();
        var array = Member(root, "models", "$", JsonValueKind.Array);
        var index = 0;
        foreach (var item in array.EnumerateArray())
        {
            models.Add(ReadModel(item, $"$.models[{index}]"));
            index++;
        }

        ListedFallback? fallback = null;
        if (root.TryGetProperty("defaultFallback", out var f) && f.ValueKind != JsonValueKind.Null)
        {
            Expect(f, JsonValueKind.Object, "$.defaultFallback", "an object or null");
            fallback = new ListedFallback(String(f, "requested", "$.defaultFallback", optional: true), String(f, "actual", "$.defaultFallback", optional: true),
                String(f, "reason", "$.defaultFallback")!, String(f, "message", "$.defaultFallback")!);
        }

        return new ModelsListing(String(root, "organisation", "$")!, String(root, "account", "$", optional: true), Strings(root, "groups", "$", optional: true),
            String(root, "revision", "$")!, Bool(root, "controlEnabled", "$"), String(root, "defaultModel", "$", optional: true), fallback, models);
    }

    public static ListedModel ReadModel(JsonElement item, string path)
    {
        Expect(item, JsonValueKind.Object, path, "a model object");
        return new ListedModel(
            String(item, "id", path)!,
            String(item, "displayName", path)!,
            String(item, "description", path, optional: true) ?? "",
            String(item, "provider", path, optional: true) ?? "",
            String(item, "status", path)!,
            String(item, "scope", path, optional: true),
            Strings(item, "geographies", path, optional: true),
            Strings(item, "aliases", path, optional: true),
            item.TryGetProperty("openWeights", out _) && Bool(item, "openWeights", path),
            String(item, "state", path, optional: true),
            Bool(item, "available", path),
            String(item, "reason", path, optional: true),
            item.TryGetProperty("default", out _) && Bool(item, "default", path),
            String(item, "placement", path, optional: true),
            String(item, "providerModelId", path, optional: true),
            String(item, "resolvesTo", path, optional: true),
            String(item, "successor", path, optional: true),
            String(item, "retiresOn", path, optional: true));
    }

    private static void NullableString(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
    }

    private static void Expect(JsonElement element, JsonValueKind kind, string path, string what)
    {
        if (element.ValueKind != kind)
        {
            throw new ModelListingException(path, $"expected {what}, found {element.ValueKind.ToString().ToLowerInvariant()}");
        }
    }

    private static JsonElement Member(JsonElement parent, string name, string path, JsonValueKind kind)
    {
        if (!parent.TryGetProperty(name, out var value))
        {
            throw new ModelListingException($"{path}.{name}", "missing");
        }

        Expect(value, kind, $"{path}.{name}", kind.ToString().ToLowerInvariant());
        return value;
    }

    private static string? String(JsonElement parent, string name, string path, bool optional = false)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return optional ? null : throw new ModelListingException($"{path}.{name}", "missing");
        }

        Expect(value, JsonValueKind.String, $"{path}.{name}", "a string");
        return value.GetString();
    }

    private static bool Bool(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new ModelListingException($"{path}.{name}", "expected true or false");
        }

        return value.GetBoolean();
    }

    private static List<string> Strings(JsonElement parent, string name, string path, bool optional)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return optional ? [] : throw new ModelListingException($"{path}.{name}", "missing");
        }

        Expect(value, JsonValueKind.Array, $"{path}.{name}", "an array of strings");
        var list = new List<string>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            Expect(item, JsonValueKind.String, $"{path}.{name}[{index}]", "a string");
            list.Add(item.GetString()!);
            index++;
        }

        return list;
    }
}
