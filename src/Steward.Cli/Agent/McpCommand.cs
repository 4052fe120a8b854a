using System.CommandLine;
using Spectre.Console;
using Steward.Agent.Servers;
using Steward.Core.Config;

namespace Steward.Cli.AgentCommands;

/// <summary>
/// <c>steward mcp add|list|status|remove|enable|disable|import|export-host|repin</c>: Steward's configured MCP servers and
/// their admission. Each subcommand has its class (<see cref="McpListCommand"/>, <see cref="McpChangeCommand"/>,
/// <see cref="McpRepinCommand"/>, add, import, export-host); this one holds what they share.
/// </summary>
internal static class McpCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var mcp = new Command("mcp", "Manage the MCP servers Steward runs: add approved ones, list them with their admission decision, import from other hosts.");
        mcp.Subcommands.Add(McpAddCommand.Create(console, stdout, stderr, environment));
        mcp.Subcommands.Add(McpListCommand.Create("list", "Each configured server (user and workspace) with its admission decision and why.", console, stdout, stderr, environment, detailed: false));
        mcp.Subcommands.Add(McpListCommand.Create("status", "The policy in force and each configured server's decision in detail.", console, stdout, stderr, environment, detailed: true));
        mcp.Subcommands.Add(McpChangeCommand.CreateRemove(console, stdout, stderr, environment));
        mcp.Subcommands.Add(McpChangeCommand.CreateEnable("enable", enabled: true, console, stdout, stderr, environment));
        mcp.Subcommands.Add(McpChangeCommand.CreateEnable("disable", enabled: false, console, stdout, stderr, environment));
        mcp.Subcommands.Add(McpImportCommand.Create(console, stdout, stderr, environment));
        mcp.Subcommands.Add(Gateway.ExportHostCommand.Create(console, stdout, stderr, environment));
        mcp.Subcommands.Add(McpRepinCommand.Create(console, stdout, stderr, environment));
        return mcp;
    }

    /// <summary>The manager over the policy in force now (the cache; no network).</summary>
    internal static ServerManager Manager(AgentEnvironment env) => ServerManager.OverCachedPolicy(env.Paths, env.WorkingDirectory, env.Time, env.Variables);

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

    internal static string Decision(ServerStatus s) => s.Decision switch
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
}
