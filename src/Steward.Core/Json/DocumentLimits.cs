using System.Globalization;
using System.Text.Json;

namespace Steward.Core.Json;

/// <summary>
/// Limits on what a document may hold, checked right after parsing and before anything is built from it (the byte size
/// and nesting depth are <see cref="JsonLimits"/>'s, checked before parsing). Each refusal names the limit, the path and
/// the count found. The defaults are far above any real registry or configuration and far below what would strain memory.
/// </summary>
public sealed record DocumentLimits
{
    /// <summary>Servers in one registry document (a server.json array, a Registry API page, a Kiro file).</summary>
    public int MaxServers { get; init; } = 50_000;

    /// <summary>Packages, and remotes, of one server.</summary>
    public int MaxPackagesPerServer { get; init; } = 64;

    /// <summary>Arguments (runtime and package, each), environment variables and headers of one package or remote.</summary>
    public int MaxArgumentsPerPackage { get; init; } = 256;

    /// <summary>Characters in any one string or property name.</summary>
    public int MaxStringLength { get; init; } = 64 * 1024;

    /// <summary>Servers in one <c>mcp.json</c>.</summary>
    public int MaxConfigServers { get; init; } = 1_000;

    public static DocumentLimits Default { get; } = new();

    private static readonly string[] ServerLists = ["servers"];
    private static readonly string[] PackageLists = ["packages", "remotes"];
    private static readonly string[] ArgumentLists = ["packageArguments", "runtimeArguments", "environmentVariables", "headers"];

    /// <summary>Why a registry document is refused, or null when it is within the limits.</summary>
    public ReadFailure? CheckRegistry(JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > MaxServers)
        {
            return Over("servers per document", MaxServers, "", root.GetArrayLength(), "split the document");
        }

        return Walk(root, "", registry: true);
    }

    /// <summary>Why an <c>mcp.json</c> is refused (too many servers, an over-long string), or null.</summary>
    public ReadFailure? CheckConfig(JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("mcpServers", out var servers) && servers.ValueKind == JsonValueKind.Object)
        {
            var count = servers.EnumerateObject().Count();
            if (count > MaxConfigServers)
            {
                return Over("servers in mcp.json", MaxConfigServers, "mcpServers", count, "remove servers you do not use");
            }
        }

        return Walk(root, "", registry: false);
    }

    private ReadFailure? Walk(JsonElement element, string path, bool registry)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var at = JsonPath.Field(path, property.Name.Length > 64 ? property.Name[..64] + "…" : property.Name);
                    if (property.Name.Length > MaxStringLength)
                    {
                        return Over("characters in a property name", MaxStringLength, at, property.Name.Length, "shorten it");
                    }

                    if (registry && property.Value.ValueKind == JsonValueKind.Array && Limit(property.Name) is { } limit &&
                        property.Value.GetArrayLength() is var length && length > limit.Max)
                    {
                        return Over(limit.What, limit.Max, at, length, limit.Hint);
                    }

                    if (Walk(property.Value, at, registry) is { } failure)
                    {
                        return failure;
                    }
                }

                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Walk(item, JsonPath.Index(path, index++), registry) is { } failure)
                    {
                        return failure;
                    }
                }

                return null;
            case JsonValueKind.String:
                var text = element.GetString()!;
                return text.Length > MaxStringLength ? Over("characters in a string", MaxStringLength, path, text.Length, "shorten the value") : null;
            default:
                return null;
        }
    }

    private (string What, int Max, string Hint)? Limit(string name) =>
        ServerLists.Contains(name, StringComparer.Ordinal) ? ("servers per document", MaxServers, "split the document")
        : PackageLists.Contains(name, StringComparer.Ordinal) ? ($"{name} per server", MaxPackagesPerServer, "list them as separate servers")
        : ArgumentLists.Contains(name, StringComparer.Ordinal) ? ($"{name} per package or remote", MaxArgumentsPerPackage, "pass fewer")
        : null;

    private static ReadFailure Over(string what, int max, string path, int found, string hint) =>
        new(ReadFailureKind.TooLarge,
            $"{(path.Length == 0 ? "the document" : path)} has {found.ToString("N0", CultureInfo.InvariantCulture)} {what}, over the limit of {max.ToString("N0", CultureInfo.InvariantCulture)}; {hint}");
}
