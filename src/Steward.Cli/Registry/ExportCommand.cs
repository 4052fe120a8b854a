using System.CommandLine;
using Steward.Agent.Sources;

namespace Steward.Cli.Registry;

/// <summary>
/// <c>steward registry export --kind kiro|claude|claude-settings|copilot|cursor|gemini [--mode gateway|direct] [--command path]</c> (<c>--format</c> is <c>--kind</c>'s earlier spelling): fetches the export from a Steward
/// server and writes it to <c>--output</c> (or standard output); what the document kind could not express goes to standard
/// error. Exit 0 written (even with entries left out, which are listed), 1 refused by the server, 2 unreachable or bad options.
/// </summary>
internal static class ExportCommand
{
    public const string ServerVariable = StewardServerClient.ServerVariable;
    public const string OrganisationVariable = "STEWARD_ORG";
    public const string TokenVariable = StewardServerClient.TokenVariable;

    /// <summary>The command's document kinds and the server's export names.</summary>
    public static readonly IReadOnlyDictionary<string, string> Kinds = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["kiro"] = "kiro",
        ["claude"] = "claude-managed-mcp",
        ["claude-settings"] = "claude-settings",
        ["copilot"] = "copilot",
        ["cursor"] = "cursor",
        ["gemini"] = "gemini",
    };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        // --kind names the document; --format is its earlier spelling, kept so that scripts written for it still work
        // (everywhere else --format chooses how a result is printed: docs/cli.md).
        var kind = new Option<string>("--kind", "--format") { Description = "The document: kiro (registry file), claude (managed-mcp.json), claude-settings (managed settings allow/deny lists), copilot (managed-settings.json), cursor (allowlist), gemini (Gemini CLI system settings). --format is its earlier spelling.", Required = true };
        var mode = new Option<string?>("--mode") { Description = "gateway (default; servers start as `steward gateway --server <name>`) or direct (the upstream's own command or URL, for machines without Steward). Kiro has only direct." };
        mode.AcceptOnlyFromAmong("gateway", "direct");
        var gatewayCommand = new Option<string?>("--command") { Description = "In gateway mode, the program hosts start: steward on PATH (default) or an absolute path." };
        kind.AcceptOnlyFromAmong([.. Kinds.Keys]);
        var server = new Option<string?>("--server") { Description = $"The Steward server URL (default: ${ServerVariable})." };
        var organisation = new Option<string?>("--org") { Description = $"The organisation (default: ${OrganisationVariable})." };
        var account = new Option<string?>("--account") { Description = "Export for this account's profile instead of the organisation's." };
        var token = new Option<string?>("--token") { Description = $"An admin or developer token of the organisation (default: ${TokenVariable}, which keeps it out of the process list)." };
        var output = new Option<string?>("--output") { Description = "Write the document to this file instead of standard output." };
        var command = new Command("export", "Export the organisation's registry in a host's own format (Kiro, Claude Code, GitHub Copilot, Cursor).")
        {
            kind, server, organisation, account, token, output, mode, gatewayCommand,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new Request(
                parse.GetValue(kind)!,
                parse.GetValue(server) ?? Environment.GetEnvironmentVariable(ServerVariable),
                parse.GetValue(organisation) ?? Environment.GetEnvironmentVariable(OrganisationVariable),
                parse.GetValue(account),
                parse.GetValue(token) ?? Environment.GetEnvironmentVariable(TokenVariable),
                parse.GetValue(output),
                parse.GetValue(mode),
                parse.GetValue(gatewayCommand));
            using var http = StewardServerClient.CreateHttp(TimeSpan.FromSeconds(60));
            return await RunAsync(request, http, stdout, stderr, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record Request(string Kind, string? Server, string? Organisation, string? Account, string? Token, string? Output, string? Mode = null, string? Command = null);

    internal static async Task<int> RunAsync(Request request, HttpClient http, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        async Task<int> Fail(int code, string message)
        {
            await stderr.WriteLineAsync("steward registry export: " + message).ConfigureAwait(false);
            return code;
        }

        if (!Kinds.TryGetValue(request.Kind, out var exportName))
        {
            return await Fail(ExitCodes.Usage, $"--kind {request.Kind}: expected one of {string.Join(", ", Kinds.Keys)}").ConfigureAwait(false);
        }

        if (RegistryExportClient.RootOf(request.Server) is not { } root)
        {
            return await Fail(ExitCodes.Usage, $"--server: give the Steward server's https URL (http only to a loopback address), or set {ServerVariable}").ConfigureAwait(false);
        }

        if (string.IsNullOrEmpty(request.Organisation))
        {
            return await Fail(ExitCodes.Usage, $"--org: give the organisation, or set {OrganisationVariable}").ConfigureAwait(false);
        }

        if (string.IsNullOrEmpty(request.Token))
        {
            return await Fail(ExitCodes.Usage, $"--token: give an admin or developer token of the organisation, or set {TokenVariable}").ConfigureAwait(false);
        }

        var client = new RegistryExportClient(new StewardServerClient(root, request.Token));
        var export = await client.FetchAsync(http, request.Organisation, exportName, request.Account, request.Mode, request.Command, cancellationToken).ConfigureAwait(false);
        if (export is not { Document: { } document, Report: { } report })
        {
            return await Fail(export.Refused ? ExitCodes.Invalid : ExitCodes.Unreadable, export.Error!).ConfigureAwait(false);
        }

        if (request.Output is { Length: > 0 } file)
        {
            if (await RegistryExportClient.WriteAsync(file, document, cancellationToken).ConfigureAwait(false) is { } error)
            {
                return await Fail(ExitCodes.Unreadable, $"--output: cannot write {file}: {error}").ConfigureAwait(false);
            }
        }
        else
        {
            await stdout.WriteLineAsync(System.Text.Encoding.UTF8.GetString(document)).ConfigureAwait(false);
            await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        await stderr.WriteAsync(Summary(report)).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>The report for people: how many entries were exported, each one left out with its reasons, and the notes.</summary>
    internal static string Summary(RegistryExportReport report)
    {
        var text = new System.Text.StringBuilder();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"exported {report.Exported} server(s); left out {report.Skipped.Count}");
        text.AppendLine(report.Skipped.Count > 0 ? ":" : "");
        foreach (var entry in report.Skipped)
        {
            text.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  {entry.Name}@{entry.Version}");
            foreach (var reason in entry.Reasons)
            {
                text.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"    - {reason}");
            }
        }

        foreach (var note in report.Notes)
        {
            text.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"note: {note}");
        }

        return text.ToString();
    }
}
