using System.CommandLine;
using System.Reflection;
using System.Text;
using Spectre.Console;
using Steward.Agent.Policy;
using Steward.Agent.Scan;
using Steward.Agent.Sync;
using Steward.Cli.AgentCommands;

namespace Steward.Cli.Scan;

/// <summary>
/// <c>steward scan [--fix] [--json | --format text|json|sarif] [--home dir] [--workspace dir]</c>: the MCP configurations on this
/// machine, each server's admission, clear-text secrets, unset references and loose file modes. Exit 0 when nothing is
/// found, 1 when something is (notes such as "no policy" do not count; with <c>--fix</c>, what was found before fixing),
/// 2 when the scan itself fails or a fix could not be applied.
/// </summary>
internal static class ScanCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var fix = new Option<bool>("--fix") { Description = "Back up each file, then disable servers that are not admitted, move secrets to ${VAR} references, and make the files 0600." };
        var json = MachineOutput.JsonOption("Print the report as JSON (the same as --format json).");
        var format = new Option<string>("--format") { Description = "text (default), json (the same as --json), or sarif (SARIF 2.1.0).", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json", "sarif");
        var home = new Option<string?>("--home") { Description = "Look for user configuration under this directory instead of the home directory." };
        var workspace = new Option<string?>("--workspace") { Description = "Look for workspace configuration in this directory instead of the current one." };
        var command = new Command("scan", "Find MCP configurations on this machine (Steward, Kiro, Claude Code, Claude Desktop, VS Code, Cursor, Windsurf) and report shadow servers, clear-text secrets, unset variables and files others can read.")
        {
            fix, json, format, home, workspace,
        };
        MachineOutput.JsonIsFormatJson(command, json, format);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var output = MachineOutput.Format(parse, json, format);
            var homeDirectory = Root(parse.GetValue(home), env.HomeDirectory, env.WorkingDirectory);
            var workspaceDirectory = Root(parse.GetValue(workspace), env.WorkingDirectory, env.WorkingDirectory);
            foreach (var (flag, directory) in new[] { ("--home", homeDirectory), ("--workspace", workspaceDirectory) })
            {
                if (!Directory.Exists(directory))
                {
                    await stderr.WriteLineAsync($"steward scan: {flag} {directory}: no such directory").ConfigureAwait(false);
                    return ExitCodes.Unreadable;
                }
            }

            PolicySnapshot? snapshot;
            string? note;
            using (var sync = new PolicySync(env.Paths, env.Time, environment: env.Variables))
            {
                snapshot = sync.Snapshot;
                note = sync.Current switch
                {
                    PolicyState.Disabled disabled when snapshot is null => disabled.Reason,
                    PolicyState.Disabled disabled => $"{disabled.Reason}; servers are identified against the last verified policy (revision {snapshot.Revision})",
                    PolicyState.Active { Stale: true } => $"the policy (revision {snapshot!.Revision}) is stale: run `steward sync`",
                    _ => null,
                };
            }

            var report = Scanner.Scan(new ScanOptions(homeDirectory, workspaceDirectory, env.Paths, snapshot, note, env.Variables));
            var fixResult = parse.GetValue(fix) ? ScanFixer.Fix(report, env.Time) : null;
            // Text goes to standard output, JSON and SARIF leave the fix's notes to standard error: the one they are written on decides.
            var terminal = output == "text" ? env.Interactive : env.ErrorIsTerminal;
            switch (output)
            {
                case "json":
                    await stdout.WriteAsync(Encoding.UTF8.GetString(ScanReportWriter.Json(report, fixResult))).ConfigureAwait(false);
                    break;
                case "sarif":
                    await stdout.WriteAsync(Encoding.UTF8.GetString(ScanReportWriter.Sarif(report, Version()))).ConfigureAwait(false);
                    break;
                default:
                    Render(console, report);
                    break;
            }

            if (fixResult is not null)
            {
                RenderFix(fixResult, terminal, output == "text" ? line => console.WriteLine(line) : line => stderr.WriteLine(line));
            }

            if (fixResult is { Errors.Count: > 0 })
            {
                return ExitCodes.Unreadable;
            }

            return report.HasFindings ? ExitCodes.Invalid : ExitCodes.Ok;
        });
        return command;
    }

    private static string Root(string? given, string fallback, string workingDirectory) =>
        given is { Length: > 0 } ? Path.GetFullPath(given, workingDirectory) : fallback;

    private static string Version() =>
        typeof(ScanCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private static void Render(IAnsiConsole console, ScanReport report)
    {
        if (report.PolicyNote is { } note)
        {
            console.MarkupLineInterpolated($"[yellow]policy[/]: {note}");
        }

        if (report.Files.Count == 0)
        {
            console.MarkupLine("no MCP configuration file found");
        }

        foreach (var file in report.Files)
        {
            console.MarkupLineInterpolated($"[bold]{file.Path}[/] ({file.Host}, {file.Scope}{(file.Mode is { } mode ? ", mode " + mode : "")}): {file.Servers} server{(file.Servers == 1 ? "" : "s")}");
            foreach (var server in report.Servers.Where(s => s.File == file.Path))
            {
                var label = server.Admission switch
                {
                    "admitted" => "[green]admitted[/]",
                    "not-admitted" => "[red]not admitted[/]",
                    "disabled" => "[grey]disabled[/]",
                    _ => "[yellow]not identifiable[/]",
                };
                console.MarkupLine($"  {label} {Markup.Escape(server.Message)}");
            }
        }

        var counted = report.Findings.Where(f => f.Level != "note").ToList();
        foreach (var finding in counted)
        {
            var level = finding.Level == "error" ? "[red]error[/]" : "[yellow]warning[/]";
            var where = finding.Path.Count > 0 ? $"{finding.File}:{finding.Line} {finding.JsonPathText}" : finding.File;
            console.MarkupLine($"{level} [grey]{finding.Rule}[/] {Markup.Escape(where)}: {Markup.Escape(finding.Message)}");
        }

        console.MarkupLineInterpolated($"{counted.Count} finding{(counted.Count == 1 ? "" : "s")} ({counted.Count(f => f.Fix is not null)} fixable with --fix)");
    }

    private static void RenderFix(FixResult result, bool terminal, Action<string> line)
    {
        foreach (var backup in result.Backups)
        {
            line($"backup written: {backup} (0600)");
        }

        foreach (var changed in result.Changed)
        {
            line($"fixed: {changed}");
        }

        foreach (var error in result.Errors)
        {
            line($"error: {error}");
        }

        if (result.Exports.Count == 0)
        {
            return;
        }

        if (terminal)
        {
            line("Secrets were replaced by references. Set them in your shell profile or secret manager (shown here once, never written to a file or log):");
            foreach (var export in result.Exports)
            {
                line("  " + ScanFixer.ExportLine(export));
            }
        }
        else
        {
            line($"Secrets were replaced by references to {string.Join(", ", result.Exports.Select(e => e.Variable))}. Their values are not printed because the output is not a terminal; they are in the backup files listed above (0600). Set these variables before starting the host.");
        }
    }
}
