using System.Text.Json.Nodes;
using Steward.Core.Json;
using Steward.Core.Registry;
using Steward.Server.Exports;
using Steward.Server.Registry;

namespace Steward.Server.AdminConsole;

/// <summary>What one host format holds for one registry entry: the document, or why the entry cannot be in it.</summary>
internal sealed record HostFormat(string Format, string Title, string Document, IReadOnlyList<string> Reasons, IReadOnlyList<string> Notes);

/// <summary>What the console's registry pages share: the host formats of an entry, the fields of a Registry API item, the list's query.</summary>
internal static class RegistryConsole
{
    public static readonly (string Format, string Title)[] Formats =
    [
        (ExportFormats.Kiro, "Kiro registry file"),
        (ExportFormats.ClaudeManagedMcp, "Claude Code managed-mcp.json"),
        (ExportFormats.ClaudeSettings, "Claude Code managed settings"),
        (ExportFormats.Copilot, "GitHub Copilot managed-settings.json"),
        (ExportFormats.Cursor, "Cursor allowlist"),
        (ExportFormats.Gemini, "Gemini CLI system settings.json"),
    ];

    /// <summary>
    /// Each host format's content for this one entry, as the exporters make it (MCP taken as on and the registry as hosted,
    /// so that the entry itself is shown; the profile's own switches are on the settings page).
    /// </summary>
    public static IReadOnlyList<HostFormat> HostFormats(string serverJson, ProfileSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var server = JsonSerializer.Deserialize(serverJson, CoreJsonContext.Default.ServerDetail)
            ?? throw new InvalidOperationException("the stored server.json is null");
        var shown = settings with { McpEnabled = true, RegistryMode = RegistryModes.Hosted, RegistryUrl = null };
        return Formats.Select(f =>
        {
            var result = Exporters.Build(f.Format, [server], [], shown);
            return new HostFormat(f.Format, f.Title, ConsoleJson.Pretty(System.Text.Encoding.UTF8.GetString(result.Document)),
                [.. result.Skipped.SelectMany(s => s.Reasons)], result.Notes);
        }).ToList();
    }

    /// <summary>The server.json of an item of the Registry API's answer, pretty-printed.</summary>
    public static string ServerJson(JsonNode? item) => item?["server"] is { } server ? server.ToJsonString(ConsoleJson.Indented) : "";

    public static string? Status(JsonNode? item) => item?["_meta"]?["io.modelcontextprotocol.registry/official"]?["status"]?.GetValue<string>();

    public static bool IsLatest(JsonNode? item) => item?["_meta"]?["io.modelcontextprotocol.registry/official"]?["isLatest"]?.GetValue<bool>() ?? false;

    public static string? StatusMessage(JsonNode? item) => item?["_meta"]?["io.modelcontextprotocol.registry/official"]?["statusMessage"]?.GetValue<string>();

    public static QueryString ListQuery(string? search, string? cursor, bool includeDeleted)
    {
        var query = QueryString.Create("limit", "20");
        if (!string.IsNullOrWhiteSpace(search))
        {
            query = query.Add("search", search.Trim());
        }

        if (!string.IsNullOrEmpty(cursor))
        {
            query = query.Add("cursor", cursor);
        }

        return includeDeleted ? query.Add("include_deleted", "true") : query;
    }
}
