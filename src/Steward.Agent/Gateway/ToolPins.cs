using Steward.Core.Admission;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using Steward.Core.Audit;
using Steward.Core.Registry;

namespace Steward.Agent.Gateway;

/// <summary>A tool the pins block: its name and the message the host and the audit get.</summary>
public sealed record PinMismatch(string Tool, string Hash, string Message);

/// <summary>
/// Tool-definition pinning: the SHA-256 of each tool's canonical definition, recorded when a server's tools are first
/// listed under a registry entry name and version (or given by the administrator in the registry entry), and checked at
/// every later listing. A tool whose definition differs from its pin, or that was not among the pinned tools, is blocked.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description>A tool's hash: lowercase hex SHA-256 of the UTF-8 bytes of the canonical JSON
/// (<see cref="HashChain.Canonical(JsonElement, string[])"/>) of <c>{"name", "description", "inputSchema"}</c> (a missing
/// description is <c>null</c>).</description></item>
/// <item><description>The administrator's pins: <c>_meta["io.steward/tool-pins"]</c> of the registry entry, in its
/// publisher-provided block or at the top level: <c>{"&lt;tool&gt;": "&lt;sha256&gt;"}</c>. When present they are the
/// approved set, and no local pin is recorded.</description></item>
/// <item><description>Local pins: <see cref="FileName"/> in the configuration directory (0600), keyed by
/// <c>&lt;registry name&gt;@&lt;version&gt;</c>, so a new registry version is approved afresh; <c>steward mcp repin</c>
/// removes them.</description></item>
/// </list>
/// </remarks>
public sealed class ToolPins
{
    public const string FileName = "pins.json";

    /// <summary>The registry <c>_meta</c> key holding the administrator's pins.</summary>
    public const string MetaKey = AdmissionPlanner.ToolPinsMetaKey;

    private static readonly Lock FileGate = new();

    /// <summary>
    /// Gateways of one user (one per server in the per-server shape) read and extend the same pin file: each
    /// read-modify-write holds the lock every steward process shares for it, so no process loses another's pins or
    /// reads a file being replaced.
    /// </summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(10);
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public ToolPins(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Path = path;
    }

    public string Path { get; }

    /// <summary>The hash of one tool's canonical definition.</summary>
    public static string HashOf(Tool tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        var definition = new JsonObject
        {
            ["name"] = tool.Name,
            ["description"] = tool.Description,
            ["inputSchema"] = JsonNode.Parse(tool.InputSchema.GetRawText()),
        };
        using var document = JsonDocument.Parse(definition.ToJsonString());
        var canonical = HashChain.Canonical(document.RootElement);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>The administrator's pins of a registry entry (an object of tool name to hash), or null.</summary>
    public static JsonElement? AdminPinsOf(ServerDetail server) => AdmissionPlanner.AdminPinsOf(server);

    /// <summary>
    /// Checks <paramref name="tools"/> of <paramref name="spec"/> against its pins and returns the blocked tools. A pin
    /// holds what the server defines, not what one host's listing shows: servers list some tools only to hosts that
    /// declare a capability (server-everything's <c>get-roots-list</c> with roots, <c>trigger-sampling-request</c> with
    /// sampling), so a pinned tool absent from a listing, or a listed tool not pinned yet, is not a mismatch. Only a
    /// pinned tool whose definition (name, description, input schema) changed is. Local pins grow: a tool first seen
    /// later is pinned then (trust on first sight, per tool). The administrator's pins are read only; which tools may
    /// be called at all is what tool rules decide.
    /// </summary>
    public ImmutableArray<PinMismatch> Check(UpstreamSpec spec, IReadOnlyList<Tool> tools)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(tools);
        var hashes = tools.GroupBy(t => t.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => HashOf(g.First()), StringComparer.Ordinal);
        Dictionary<string, string> pinned;
        var admin = spec.AdminToolPins is { ValueKind: JsonValueKind.Object };
        if (admin)
        {
            pinned = spec.AdminToolPins!.Value.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String)
                .ToDictionary(p => p.Name, p => p.Value.GetString()!.ToLowerInvariant(), StringComparer.Ordinal);
        }
        else
        {
            lock (FileGate)
            using (Files.FileLock.Acquire(Path + ".lock", LockWait))
            {
                var all = Load(Path);
                var key = Key(spec.RegistryName, spec.Version);
                if (all[key] is not JsonObject entry || entry["tools"] is not JsonObject recorded)
                {
                    recorded = [];
                    all[key] = entry = new JsonObject
                    {
                        ["server"] = spec.Name,
                        ["registryName"] = spec.RegistryName,
                        ["version"] = spec.Version,
                        ["pinnedAt"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                        ["tools"] = recorded,
                    };
                }

                pinned = recorded.Where(p => p.Value is JsonValue v && v.TryGetValue(out string? _))
                    .ToDictionary(p => p.Key, p => p.Value!.GetValue<string>(), StringComparer.Ordinal);
                var added = false;
                foreach (var (name, hash) in hashes.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (!pinned.ContainsKey(name))
                    {
                        recorded[name] = hash;
                        pinned[name] = hash;
                        added = true;
                    }
                }

                if (added)
                {
                    Save(Path, all);
                }
            }
        }

        var blocked = ImmutableArray.CreateBuilder<PinMismatch>();
        foreach (var (name, hash) in hashes.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (pinned.TryGetValue(name, out var expected) && !string.Equals(expected, hash, StringComparison.Ordinal))
            {
                blocked.Add(new PinMismatch(name, hash, admin
                    ? $"the definition of tool \"{name}\" of \"{spec.Name}\" differs from the one your administrator pinned for {spec.RegistryName} {spec.Version} (administrator's pins); ask your administrator to re-approve it"
                    : $"the definition of tool \"{name}\" of \"{spec.Name}\" changed since it was pinned on this machine (local pins); if you expected the change, run `steward mcp repin {spec.Name}`"));
            }
        }

        return blocked.ToImmutable();
    }

    /// <summary>
    /// Removes the local pins of <paramref name="server"/> (a configured name or a registry name, every version), so the
    /// next listing is approved afresh. Returns the keys removed.
    /// </summary>
    public static ImmutableArray<string> Clear(string path, string server)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(server);
        if (!File.Exists(path))
        {
            // No pins file, no pins: and its lock could not be taken where the configuration directory does not exist yet.
            return [];
        }

        lock (FileGate)
        using (Files.FileLock.Acquire(path + ".lock", LockWait))
        {
            if (!File.Exists(path))
            {
                return [];
            }

            var all = Load(path);
            var removed = all.Where(p => p.Value is JsonObject entry &&
                                         (Text(entry, "server") == server || Text(entry, "registryName") == server))
                .Select(p => p.Key).ToImmutableArray();
            foreach (var key in removed)
            {
                all.Remove(key);
            }

            if (!removed.IsEmpty)
            {
                Save(path, all);
            }

            return removed;
        }
    }

    private static string? Text(JsonObject entry, string name) =>
        entry[name] is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    private static string Key(string registryName, string version) => registryName + "@" + version;

    private static JsonObject Load(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            return JsonNode.Parse(File.ReadAllBytes(path)) as JsonObject
                   ?? throw new InvalidDataException($"{path} is not a JSON object");
        }
        catch (JsonException e)
        {
            // Never treat an unreadable pin file as "nothing pinned": that would silently re-approve every server.
            throw new InvalidDataException($"{path} cannot be read ({e.Message}); fix or remove it", e);
        }
    }

    /// <summary>Written whole under a name of its own, then moved over the file (0600): a reader never sees half a file.</summary>
    private static void Save(string path, JsonObject all) =>
        Files.PrivateFiles.WriteAtomic(path, Encoding.UTF8.GetBytes(all.ToJsonString(Indented)));
}
