using Microsoft.Extensions.DependencyInjection;
using Steward.Core.Json;
using Steward.Core.Registry;
using Steward.Server.Exports;
using Steward.Server.Registry;

namespace Steward.Server.AdminConsole;

/// <summary>What one host format holds for one registry entry: the document, or why the entry cannot be in it.</summary>
internal sealed record HostFormat(string Format, string Title, string Document, IReadOnlyList<string> Reasons, IReadOnlyList<string> Notes);

/// <summary>What the console's registry pages share: the host formats of an entry, its server.json, the registry they read and the list's query.</summary>
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

    /// <summary>The organisation's registry as its Registry API base URL (<c>/o/{org}/registry</c>) serves it: the hosted one, or the external copy.</summary>
    public static Task<ResolvedRegistry?> RegistryAsync(HttpContext context, Organisation organisation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(organisation);
        return context.RequestServices.GetRequiredService<RegistryRevisions>().ResolveAsync(organisation.Slug, null, context.RequestAborted);
    }

    /// <summary>A page of 20 of the list, as the registry page asks for it.</summary>
    public static ServerListQuery ListQuery(string? search, string? cursor, bool includeDeleted) =>
        new(20, string.IsNullOrWhiteSpace(search) ? null : search.Trim(), Cursor: string.IsNullOrEmpty(cursor) ? null : cursor, IncludeDeleted: includeDeleted ? true : null);
}
