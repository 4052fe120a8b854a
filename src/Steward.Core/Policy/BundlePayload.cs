using System.Text.Encodings.Web;
using System.Runtime.InteropServices;
using System.Text.Json;
using Steward.Core.Json;
using Steward.Core.Registry;
using Steward.Core.Sandbox;

namespace Steward.Core.Policy;

/// <summary>The organisation's emergency stop in a bundle's profile: the admin's words and since when.</summary>
public sealed record BundleEmergencyStop(string Reason, string? Since);

/// <summary>
/// The <c>profile</c> of a bundle payload: the effective settings of the caller's profile (MCP off when the organisation's
/// emergency stop is in force), its scope (<c>organisation</c> or <c>account</c>) and its tool rules.
/// </summary>
public sealed record BundleProfile(
    string? Scope,
    bool McpEnabled,
    bool WebToolsEnabled,
    string RegistryMode,
    string? RegistryUrl,
    long SyncIntervalSeconds,
    long? MaxOfflineAgeSeconds,
    bool ModelControlEnabled = false,
    bool AuditToolArguments = false)
{
    /// <summary>The profile's tool rules, in order; written only when there are some, so a bundle without rules keeps its bytes (and ETag).</summary>
    public IReadOnlyList<ToolRule> ToolRules { get; init; } = [];

    public BundleEmergencyStop? EmergencyStop { get; init; }
}

/// <summary>
/// The payload of the signed policy bundle (docs/policy-bundle.md): the one definition of its JSON, written by the
/// server (<see cref="ToUtf8"/>) and read by the agent (<see cref="Read"/>). The writer is a hand-written
/// <see cref="Utf8JsonWriter"/> rather than a generated serializer because the bytes must stay exactly what they were
/// (the ETag and the signature are over them, and clients compare revisions) and the registry and models sections are
/// other contracts' JSON carried as they are. Same content, same bytes: member order is fixed, no indentation, the
/// registry's relaxed escaping.
/// </summary>
/// <param name="IssuedAt"><c>iat</c>, the start of the bundle's window; null only in payloads read without it.</param>
/// <param name="ExpiresAt"><c>exp</c>; null only in payloads read without it.</param>
public sealed record BundlePayload(string? Subject, long? IssuedAt, long? ExpiresAt, string Revision, string? Organisation, string? Account, BundleProfile Profile)
{
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The registry as a Registry API page (UTF-8 JSON, written as it is); null (or empty) writes <c>"registry": null</c> (no allowlist, or none fetched yet).</summary>
    public ReadOnlyMemory<byte>? Registry { get; init; }

    /// <summary>The models listing, a JSON array written as it is.</summary>
    public ReadOnlyMemory<byte> Models { get; init; } = "[]"u8.ToArray();

    public SandboxPolicy Sandbox { get; init; } = SandboxPolicy.None;

    /// <summary>Deprecated and deleted versions with the admin's message, a Registry API page; null (or empty) leaves the member out.</summary>
    public ReadOnlyMemory<byte>? Withdrawn { get; init; }

    public byte[] ToUtf8()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public void WriteTo(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        if (Subject is not null)
        {
            w.WriteString("sub", Subject);
        }

        if (IssuedAt is { } iat)
        {
            w.WriteNumber("iat", iat);
        }

        if (ExpiresAt is { } exp)
        {
            w.WriteNumber("exp", exp);
        }

        w.WriteString("revision", Revision);
        if (Organisation is not null)
        {
            w.WriteString("organisation", Organisation);
        }

        WriteNullable(w, "account", Account);
        w.WriteStartObject("profile");
        if (Profile.Scope is not null)
        {
            w.WriteString("scope", Profile.Scope);
        }

        w.WriteBoolean("mcpEnabled", Profile.McpEnabled);
        w.WriteBoolean("webToolsEnabled", Profile.WebToolsEnabled);
        w.WriteString("registryMode", Profile.RegistryMode);
        WriteNullable(w, "registryUrl", Profile.RegistryUrl);
        w.WriteNumber("syncIntervalSeconds", Profile.SyncIntervalSeconds);
        if (Profile.MaxOfflineAgeSeconds is { } max)
        {
            w.WriteNumber("maxOfflineAgeSeconds", max);
        }
        else
        {
            w.WriteNull("maxOfflineAgeSeconds");
        }

        w.WriteBoolean("modelControlEnabled", Profile.ModelControlEnabled);
        w.WriteBoolean("auditToolArguments", Profile.AuditToolArguments);
        if (Profile.ToolRules.Count > 0)
        {
            w.WritePropertyName("toolRules");
            ToolRule.WriteList(w, Profile.ToolRules);
        }

        if (Profile.EmergencyStop is { } stop)
        {
            // Why MCP is off, in the admin's words, for the developer's `steward mcp status` and the gateway's log.
            w.WriteStartObject("emergencyStop");
            w.WriteString("reason", stop.Reason);
            if (stop.Since is not null)
            {
                w.WriteString("since", stop.Since);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WritePropertyName("registry");
        // Empty memory (a null byte[] converted) is no registry, as null is: never an empty raw value.
        if (Registry is { IsEmpty: false } registry)
        {
            w.WriteRawValue(registry.Span, skipInputValidation: true);
        }
        else
        {
            w.WriteNullValue();
        }

        w.WritePropertyName("models");
        w.WriteRawValue(Models.Span, skipInputValidation: true);
        // What each local server may touch on the developer's machine (docs/sandbox.md); the gateway enforces it.
        w.WritePropertyName("sandbox");
        SandboxPolicyJson.Write(w, Sandbox);
        if (Withdrawn is { Length: > 0 } withdrawn)
        {
            // Versions an admin deprecated or deleted, never admitted: only so that a developer who runs one is told the admin's words.
            w.WritePropertyName("withdrawn");
            w.WriteRawValue(withdrawn.Span, skipInputValidation: true);
        }

        w.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
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

    /// <summary>
    /// Reads a payload, strictly where a mistake could widen what runs (the profile's switches, the tool rules, the
    /// sandbox; a registry that is not valid) and leniently where older servers left members out (absent
    /// <c>auditToolArguments</c>, <c>toolRules</c>, <c>sandbox</c> mean off, none, none). The registry is parsed once,
    /// from the payload's own document, and validated; the withdrawn list likewise (left out when it does not load).
    /// </summary>
    public static BundlePayloadReading Read(ReadOnlyMemory<byte> utf8)
    {
        var parsed = StrictJson.Parse(utf8);
        using var document = parsed.Document;
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object)
        {
            return BundlePayloadReading.Refused("its payload is not a JSON object");
        }

        var root = document.RootElement;
        if (!root.TryGetProperty("revision", out var revision) || revision.ValueKind != JsonValueKind.String || revision.GetString() is not { Length: > 0 } revisionText)
        {
            return BundlePayloadReading.Refused("its payload has no revision");
        }

        if (!root.TryGetProperty("profile", out var profile) || profile.ValueKind != JsonValueKind.Object)
        {
            return BundlePayloadReading.Refused("its payload has no profile");
        }

        if (!TryBoolean(profile, "mcpEnabled", out var mcpEnabled) || !TryBoolean(profile, "webToolsEnabled", out var webToolsEnabled) ||
            !profile.TryGetProperty("registryMode", out var mode) || mode.ValueKind != JsonValueKind.String ||
            !TrySeconds(profile, "syncIntervalSeconds", out var syncInterval) || syncInterval is null)
        {
            return BundlePayloadReading.Refused("its profile lacks mcpEnabled, webToolsEnabled, registryMode or syncIntervalSeconds");
        }

        if (!TrySeconds(profile, "maxOfflineAgeSeconds", out var maxOfflineAge))
        {
            return BundlePayloadReading.Refused("its profile's maxOfflineAgeSeconds is not a positive whole number of seconds");
        }

        var flags = new bool[2];
        string[] optional = ["auditToolArguments", "modelControlEnabled"];
        for (var i = 0; i < optional.Length; i++)
        {
            if (profile.TryGetProperty(optional[i], out var flag))
            {
                if (flag.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    return BundlePayloadReading.Refused($"its profile's {optional[i]} is not true or false");
                }

                flags[i] = flag.GetBoolean();
            }
        }

        IReadOnlyList<ToolRule> toolRules = [];
        if (profile.TryGetProperty("toolRules", out var rulesElement) && rulesElement.ValueKind != JsonValueKind.Null)
        {
            // A rule read wrongly could let a denied tool run: an invalid list refuses the whole bundle.
            var (rules, problem) = ToolRuleList.Read(rulesElement, "$.profile.toolRules");
            if (rules is null)
            {
                return BundlePayloadReading.Refused("its tool rules are invalid: " + problem);
            }

            toolRules = rules;
        }

        BundleEmergencyStop? emergencyStop = null;
        if (profile.TryGetProperty("emergencyStop", out var stopElement) && stopElement.ValueKind != JsonValueKind.Null)
        {
            if (stopElement.ValueKind != JsonValueKind.Object || !stopElement.TryGetProperty("reason", out var stopReason) || stopReason.ValueKind != JsonValueKind.String)
            {
                return BundlePayloadReading.Refused("its profile's emergencyStop has no reason");
            }

            emergencyStop = new BundleEmergencyStop(stopReason.GetString()!, Text(stopElement, "since"));
        }

        ReadOnlyMemory<byte>? registry = null;
        LoadResult? loadedRegistry = null;
        if (root.TryGetProperty("registry", out var registryElement) && registryElement.ValueKind != JsonValueKind.Null)
        {
            if (registryElement.ValueKind != JsonValueKind.Object)
            {
                return BundlePayloadReading.Refused("its registry is neither null nor a Registry API page");
            }

            registry = RawOf(registryElement);
            loadedRegistry = RegistryLoader.Load(registryElement, RegistryShape.RegistryApiPage);
        }

        ReadOnlyMemory<byte>? withdrawn = null;
        LoadResult? loadedWithdrawn = null;
        if (root.TryGetProperty("withdrawn", out var withdrawnElement) && withdrawnElement.ValueKind == JsonValueKind.Object)
        {
            withdrawn = RawOf(withdrawnElement);
            loadedWithdrawn = RegistryLoader.Load(withdrawnElement, RegistryShape.RegistryApiPage);
        }

        ReadOnlyMemory<byte> models = "[]"u8.ToArray();
        if (root.TryGetProperty("models", out var modelsElement) && modelsElement.ValueKind != JsonValueKind.Null)
        {
            if (modelsElement.ValueKind != JsonValueKind.Array)
            {
                return BundlePayloadReading.Refused("its models is not an array");
            }

            models = RawOf(modelsElement);
        }

        // Absent in bundles from servers older than sandboxes: no server is sandboxed. An invalid one refuses the whole
        // bundle, as any other part does: a sandbox read wrongly would let a server touch what it must not.
        var sandbox = SandboxPolicy.None;
        if (root.TryGetProperty("sandbox", out var sandboxElement))
        {
            var (read, problems) = SandboxPolicyJson.Parse(sandboxElement);
            if (read is null)
            {
                return BundlePayloadReading.Refused("its sandbox section is invalid: " + string.Join("; ", problems.Select(p => p.ToString())));
            }

            sandbox = read;
        }

        var payload = new BundlePayload(
            Text(root, "sub"),
            Integer(root, "iat"),
            Integer(root, "exp"),
            revisionText,
            Text(root, "organisation"),
            Text(root, "account"),
            new BundleProfile(Text(profile, "scope"), mcpEnabled, webToolsEnabled, mode.GetString()!, Text(profile, "registryUrl"),
                (long)syncInterval.Value.TotalSeconds, maxOfflineAge is { } age ? (long)age.TotalSeconds : null, flags[1], flags[0])
            {
                ToolRules = toolRules,
                EmergencyStop = emergencyStop,
            })
        {
            Registry = registry,
            Models = models,
            Sandbox = sandbox,
            Withdrawn = withdrawn,
        };
        return new BundlePayloadReading(payload, null) { Registry = loadedRegistry, Withdrawn = loadedWithdrawn };
    }

    /// <summary>The bytes of <paramref name="element"/> as they are in the payload (a copy, not a second parse).</summary>
    private static byte[] RawOf(JsonElement element) => JsonMarshal.GetRawUtf8Value(element).ToArray();

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long? Integer(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : null;

    private static bool TryBoolean(JsonElement element, string name, out bool value)
    {
        value = false;
        if (!element.TryGetProperty(name, out var property) || property.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return false;
        }

        value = property.GetBoolean();
        return true;
    }

    /// <summary>A duration in whole seconds: absent or null gives null (and true); anything but a positive integer, false.</summary>
    private static bool TrySeconds(JsonElement element, string name, out TimeSpan? value)
    {
        value = null;
        if (!element.TryGetProperty(name, out var property) || property.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (property.ValueKind != JsonValueKind.Number || !property.TryGetInt64(out var seconds) || seconds <= 0 || seconds > 100L * 365 * 24 * 3600)
        {
            return false;
        }

        value = TimeSpan.FromSeconds(seconds);
        return true;
    }
}

/// <summary>A payload read: the payload, or why it is not a Steward policy payload; with its registry and withdrawn list loaded and validated.</summary>
public sealed record BundlePayloadReading(BundlePayload? Payload, string? Error)
{
    /// <summary>The registry loaded from the payload's document (null when the payload has none); check <see cref="LoadResult.IsValid"/>.</summary>
    public LoadResult? Registry { get; init; }

    public LoadResult? Withdrawn { get; init; }

    public static BundlePayloadReading Refused(string error) => new(null, error);
}
