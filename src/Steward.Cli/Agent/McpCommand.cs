using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Servers;
using Steward.Agent.Sync;
using Steward.Core.Config;

namespace Steward.Cli.AgentCommands;

/// <summary><c>steward mcp add|list|status|remove|enable|disable|import|export-host|repin</c>: Steward's configured MCP servers and their admission.</summary>
internal static class McpCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var mcp = new Command("mcp", "Manage the MCP servers Steward runs: add approved ones, list them with their admission decision, import from other hosts.");
        mcp.Subcommands.Add(McpAddCommand.Create(console, stdout, stderr, environment));
        mcp.Subcommands.Add(CreateList("list", "Each configured server (user and workspace) with its admission decision and why.", console, stdout, stderr, environment, detailed: false));
        mcp.Subcommands.Add(CreateList("status", "The policy in force and each configured server's decision in detail.", console, stdout, stderr, environment, detailed: true));
        mcp.Subcommands.Add(CreateRemove(console, stdout, stderr, environment));
        mcp.Subcommands.Add(CreateEnable("enable", enabled: true, console, stdout, stderr, environment));
        mcp.Subcommands.Add(CreateEnable("disable", enabled: false, console, stdout, stderr, environment));
        mcp.Subcommands.Add(McpImportCommand.Create(console, stdout, stderr, environment));
        mcp.Subcommands.Add(Gateway.ExportHostCommand.Create(console, stdout, stderr, environment));
        mcp.Subcommands.Add(CreateRepin(console, stdout, stderr, environment));
        return mcp;
    }

    /// <summary>The manager over the policy in force now (the cache; no network).</summary>
    internal static ServerManager Manager(AgentEnvironment env)
    {
        using var sync = new PolicySync(env.Paths, env.Time, environment: env.Variables);
        return new ServerManager(env.Paths, env.WorkingDirectory, sync.Current);
    }

    internal static Option<string?> ScopeOption(string description)
    {
        var scope = new Option<string?>("--scope") { Description = description };
        scope.AcceptOnlyFromAmong("user", "workspace");
        return scope;
    }

    internal static ConfigScope? ParseScope(string? scope) => scope switch
    {
        "user" => ConfigScope.User,
        "workspace" => ConfigScope.Workspace,
        _ => null,
    };

    private static Command CreateList(string name, string description, IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment, bool detailed)
    {
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var server = new Argument<string?>("name") { Description = "Only this server.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command(name, description) { json };
        if (detailed)
        {
            command.Arguments.Add(server);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var (report, error) = Manager(env).Status();
            if (report is null)
            {
                return AgentOutput.Error(stderr, error!);
            }

            if (detailed && parse.GetValue(server) is { } only)
            {
                if (!report.Servers.Any(s => s.Name == only))
                {
                    return AgentOutput.Error(stderr, $"\"{only}\" is not configured; configured: {(report.Servers.Count == 0 ? "none" : string.Join(", ", report.Servers.Select(s => s.Name)))}");
                }

                report = report with { Servers = [.. report.Servers.Where(s => s.Name == only)] };
            }

            if (parse.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(report, AgentJsonContext.Output.StatusReport)).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            RenderPolicy(console, report.Policy, detailed);
            if (report.Servers.Count == 0)
            {
                console.MarkupLine("no MCP server is configured; add an approved one with `steward mcp add`");
                return ExitCodes.Ok;
            }

            if (detailed)
            {
                foreach (var s in report.Servers)
                {
                    console.MarkupLineInterpolated($"[bold]{s.Name}[/] ({s.Kind}, {s.Scope}: {s.File})");
                    console.MarkupLine($"  {Decision(s)}: {Markup.Escape(s.Message)}");
                    if (s.Alias is { } alias)
                    {
                        console.MarkupLine($"  alias: {Markup.Escape(alias)} (its tools are {Markup.Escape(alias)}__<tool> through `steward gateway`)");
                    }
                    if (s.Sandbox is { } sandbox)
                    {
                        console.MarkupLine($"  sandbox: {Markup.Escape(sandbox)}");
                    }
                }

                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Simple).AddColumns("name", "alias", "scope", "kind", "decision", "why");
            foreach (var s in report.Servers)
            {
                table.AddRow(Markup.Escape(s.Name), Markup.Escape(s.Alias ?? "-"), s.Scope, s.Kind, Decision(s), Markup.Escape(s.Message));
            }

            console.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Decision(ServerStatus s) => s.Decision switch
    {
        "allowed" => "[green]allowed[/]",
        "relaunch" => $"[blue]relaunch at {Markup.Escape(s.Version ?? "")}[/]",
        _ => $"[red]blocked[/] [grey]{Markup.Escape(s.Reason ?? "")}[/]",
    };

    internal static void RenderPolicy(IAnsiConsole console, PolicyStatus policy, bool detailed)
    {
        switch (policy.State)
        {
            case "disabled":
                console.MarkupLineInterpolated($"[red]MCP disabled[/]: {policy.Reason}");
                console.MarkupLineInterpolated($"  what to do: {policy.WhatToDo}");
                break;
            default:
                var stale = policy.State == "stale" ? " [yellow](stale: the source could not confirm it recently)[/]" : "";
                console.MarkupLine($"policy from {Markup.Escape(policy.Source ?? "")}, {policy.ApprovedServers} approved server{(policy.ApprovedServers == 1 ? "" : "s")}{stale}");
                if (detailed)
                {
                    console.MarkupLineInterpolated($"  revision {policy.Revision}, last confirmed {policy.ConfirmedAt?.UtcDateTime:yyyy-MM-dd HH:mm} UTC");
                }

                break;
        }
    }

    /// <summary>The <c>--json</c> answer of <c>steward mcp repin</c>: the pins cleared (server@version keys), none when there were none.</summary>
    internal sealed record RepinReport(string? Error, string Server, IReadOnlyList<string> Cleared);

    /// <summary><c>steward mcp repin &lt;server&gt; [--json]</c>: clears the gateway's local tool pins of a server (every version), so its current tools are approved at the next listing.</summary>
    private static Command CreateRepin(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var name = new Argument<string>("server") { Description = "The configured or registry name of the server whose tool pins to clear." };
        var json = MachineOutput.JsonOption("Print the pins cleared as JSON.");
        var command = new Command("repin", "Clear a server's tool-definition pins: the gateway approves and pins its tools again at the next listing.") { name, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var server = parse.GetValue(name)!;
            var asJson = parse.GetValue(json);
            System.Collections.Immutable.ImmutableArray<string> removed;
            try
            {
                // No pins file, no pins: and its lock could not be taken where the configuration directory does not exist yet.
                removed = File.Exists(env.Paths.PinsFile) ? Steward.Agent.Gateway.ToolPins.Clear(env.Paths.PinsFile, server) : [];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                if (!asJson)
                {
                    return AgentOutput.Error(stderr, e.Message, ExitCodes.Unreadable);
                }

                await stdout.WriteLineAsync(JsonSerializer.Serialize(new RepinReport(e.Message, server, []), CliJsonContext.Output.RepinReport)).ConfigureAwait(false);
                return ExitCodes.Unreadable;
            }

            if (asJson)
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(new RepinReport(null, server, removed), CliJsonContext.Output.RepinReport)).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            if (removed.IsEmpty)
            {
                await stdout.WriteLineAsync($"No tool pins recorded for \"{server}\".").ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            await stdout.WriteLineAsync($"Cleared the tool pins of {string.Join(", ", removed)}; the gateway pins the current tools at the next listing (restart it or wait for the next policy sync to relaunch the server).")
                .ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CreateRemove(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var name = new Argument<string>("name") { Description = "The configured server to remove." };
        var scope = ScopeOption("Remove it from this file (default: the file that defines it, workspace first).");
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("remove", "Remove a configured server (and the secrets Steward stored for it).") { name, scope, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var result = Manager(env).Remove(parse.GetValue(name)!, ParseScope(parse.GetValue(scope)));
            return await RenderChangeAsync(console, stdout, stderr, result, parse.GetValue(json)).ConfigureAwait(false);
        });
        return command;
    }

    private static Command CreateEnable(string verb, bool enabled, IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var name = new Argument<string>("name") { Description = $"The configured server to {verb}." };
        var scope = ScopeOption("Change it in this file (default: the file that defines it, workspace first).");
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var description = enabled
            ? "Enable a configured server; refused, with the reason, when the policy does not admit it."
            : "Disable a configured server: the gateway does not start it.";
        var command = new Command(verb, description) { name, scope, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var result = Manager(env).SetEnabled(parse.GetValue(name)!, enabled, ParseScope(parse.GetValue(scope)));
            return await RenderChangeAsync(console, stdout, stderr, result, parse.GetValue(json)).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RenderChangeAsync(IAnsiConsole console, TextWriter stdout, TextWriter stderr, ChangeResult result, bool json)
    {
        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(result, AgentJsonContext.Output.ChangeResult)).ConfigureAwait(false);
            return result.Succeeded ? ExitCodes.Ok : ExitCodes.Invalid;
        }

        if (!result.Succeeded)
        {
            return AgentOutput.Error(stderr, result.Error!);
        }

        console.MarkupLineInterpolated($"{result.Message}");
        if (result.Status is { } status)
        {
            console.MarkupLine($"  {Decision(status)}: {Markup.Escape(status.Message)}");
        }

        return ExitCodes.Ok;
    }
}
