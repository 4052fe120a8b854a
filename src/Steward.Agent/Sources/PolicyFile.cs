using System.Text.Json;
using Steward.Agent.Policy;
using Steward.Core.Policy;
using Steward.Core.Registry;

namespace Steward.Agent.Sources;

/// <summary>
/// A policy kept in a local file, for machines without a Steward server (air-gapped) and for tests:
/// <c>{"registry": &lt;registry document&gt; | "registryFile": "&lt;path&gt;", "mcpEnabled", "webToolsEnabled",
/// "toolRules": [{"pattern": "server/tool", "effect": "allow|ask|deny", "reason"?: "…"}], "auditArguments", "allowLoopbackHttp"}</c>.
/// The registry is any shape <see cref="RegistryLoader"/> reads (Kiro file, Registry API page, server.json list).
/// On a machine logged in to a Steward server, a gateway given the file follows the server's signed policy and adds only
/// the file's <c>toolRules</c> to the profile's (deny wins; see docs/gateway.md): a file the developer controls never
/// widens what the administrator admits. A file that cannot be read or is invalid gives <see cref="PolicyState.Disabled"/> (fail closed) naming the problem.
/// </summary>
public static class PolicyFile
{
    public static PolicyState Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new PolicyState.Disabled($"the policy file {path} cannot be read ({e.Message}).", "Check the path given to --policy.");
        }

        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Invalid(path, "the top level is not an object");
            }

            byte[] registryBytes;
            if (root.TryGetProperty("registry", out var inline))
            {
                registryBytes = JsonSerializer.SerializeToUtf8Bytes(inline, PolicyFileJsonContext.Default.JsonElement);
            }
            else if (root.TryGetProperty("registryFile", out var file) && file.ValueKind == JsonValueKind.String)
            {
                var registryPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, file.GetString()!);
                registryBytes = File.ReadAllBytes(registryPath);
            }
            else
            {
                return Invalid(path, "it has neither \"registry\" nor \"registryFile\"");
            }

            var loaded = RegistryLoader.Load(registryBytes);
            if (!loaded.IsValid || loaded.Document is null)
            {
                var first = loaded.Problems.FirstOrDefault();
                return Invalid(path, "its registry is invalid" + (first is null ? "" : ": " + first));
            }

            IReadOnlyList<ToolRule> rules = [];
            if (root.TryGetProperty("toolRules", out var ruleArray))
            {
                var (read, problem) = ToolRuleList.Read(ruleArray, lenientEffectCase: true);
                if (read is null)
                {
                    return Invalid(path, problem!.ToString());
                }

                rules = [.. read.Select(r => r with { Origin = ToolRuleOrigin.LocalFile })];
            }

            var snapshot = new PolicySnapshot
            {
                Source = Path.GetFullPath(path),
                Revision = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16],
                FetchedAt = DateTimeOffset.UtcNow,
                Registry = loaded.Document.Entries,
                McpEnabled = Flag(root, "mcpEnabled", true),
                WebToolsEnabled = Flag(root, "webToolsEnabled", true),
                ToolRules = rules,
                AuditArguments = Flag(root, "auditArguments", false),
                AllowLoopbackHttp = Flag(root, "allowLoopbackHttp", false),
            };
            return new PolicyState.Active(snapshot);
        }
        catch (JsonException e)
        {
            return Invalid(path, "it is not valid JSON (" + e.Message + ")");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Invalid(path, e.Message);
        }
    }

    private static bool Flag(JsonElement root, string name, bool fallback) =>
        root.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : fallback;

    private static PolicyState.Disabled Invalid(string path, string why) =>
        new($"the policy file {path} is rejected: {why}.", "Fix the file; until then no MCP server runs.");
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonElement))]
internal sealed partial class PolicyFileJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
