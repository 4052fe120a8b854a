using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Agent.Servers;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Core.Policy;

namespace Steward.Cli.AgentCommands;

/// <summary>
/// <c>steward policy explain tool &lt;server&gt;/&lt;tool&gt; [--policy file] [--json]</c>: which rule decides the tool
/// and why — a rule of the organisation's profile (with the admin's reason), a rule of the local policy file, the
/// server's <c>disabledTools</c> or <c>autoApprove</c>, or the default (allow). The same decision the gateway makes.
/// Exit 0 listed (allowed, or allowed after approval), 1 refused or bad input.
/// </summary>
internal static class PolicyExplainToolCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var target = new Argument<string>("server/tool")
        {
            Description = "The server (as configured in mcp.json, or its registry name) and the tool, as <server>/<tool>: everything/echo, io.github.example/files/delete_file.",
        };
        var json = new Option<bool>("--json") { Description = "Print the explanation as JSON." };
        var policy = new Option<string?>("--policy") { Description = "Also apply this local policy file, as `steward gateway --policy` does." };
        var command = new Command("tool", "Which rule decides whether a tool is listed, asked for or refused.") { target, json, policy };
        command.SetAction((parse, _) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            return Task.FromResult(Run(console, stdout, stderr, env, parse.GetValue(target)!, parse.GetValue(policy), parse.GetValue(json)));
        });
        return command;
    }

    private static int Run(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment env, string target, string? policyPath, bool json)
    {
        var slash = target.LastIndexOf('/');
        if (slash <= 0 || slash == target.Length - 1)
        {
            return AgentOutput.Error(stderr, $"\"{target}\" is not <server>/<tool>: give the server's name and the tool's, such as everything/echo", ExitCodes.Usage);
        }

        var (server, tool) = (target[..slash], target[(slash + 1)..]);
        var (config, configError) = McpConfigFiles.LoadMerged(env.Paths, env.WorkingDirectory);
        if (config is null)
        {
            return AgentOutput.Error(stderr, configError ?? "the MCP configuration cannot be read");
        }

        // As the gateway: logged in to a Steward server, the file adds its rules to the signed policy; otherwise it is the policy.
        var loggedIn = SourceStore.Load(env.Paths).Source is { Kind: SourceKind.StewardServer };
        PolicyState state;
        IReadOnlyList<ToolRule> localRules = [];
        var file = policyPath is null ? null : PolicyFile.Load(policyPath);
        if (file is PolicyState.Disabled broken)
        {
            return AgentOutput.Error(stderr, $"{broken.Reason} {broken.WhatToDo}");
        }

        if (policyPath is null || loggedIn)
        {
            using var sync = new PolicySync(env.Paths, env.Time, environment: env.Variables);
            state = sync.Current;
            localRules = file is PolicyState.Active local ? local.Snapshot.ToolRules : [];
        }
        else
        {
            state = file!;
        }

        if (state is not PolicyState.Active { Snapshot: var snapshot })
        {
            var disabled = (PolicyState.Disabled)state;
            return AgentOutput.Error(stderr, $"no policy is in force, so the gateway serves no tool: {disabled.Reason} {disabled.WhatToDo}");
        }

        var explanation = ToolExplainer.Explain(snapshot, config, server, tool, localRules);
        var code = explanation.Listed ? ExitCodes.Ok : ExitCodes.Invalid;
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(explanation, CliJsonContext.Output.ToolExplanation));
            return code;
        }

        var verdict = explanation.Verdict switch
        {
            "allow" => "[green]allowed[/]",
            "ask" => "[yellow]asks for approval[/]",
            "disabled" => "[red]disabled[/]",
            _ => "[red]denied[/]",
        };
        console.MarkupLine($"{Markup.Escape(server)}/{Markup.Escape(tool)}: {verdict}");
        console.MarkupLine($"  decided by: {Markup.Escape(explanation.Explanation)}");
        if (explanation.RegistryName is { } registryName && registryName != server)
        {
            console.MarkupLine($"  the server is the registry's {Markup.Escape(registryName)}: rules match either name");
        }
        else if (!explanation.Configured)
        {
            console.MarkupLine("  the server is not in your mcp.json: its disabledTools and autoApprove are not known");
        }

        if (!snapshot.McpEnabled)
        {
            console.MarkupLine($"  [yellow]note[/]: {Markup.Escape(snapshot.McpOffReason)}: no tool is served whatever the rules");
        }

        foreach (var rule in explanation.Rules.Where(r => r.Matches))
        {
            console.MarkupLine($"  matches: {Markup.Escape(rule.Effect)} {Markup.Escape(rule.Pattern)} ({(rule.Origin == "local-file" ? "local policy file" : "profile")}){(rule.Reason is { } reason ? ": " + Markup.Escape(reason) : "")}");
        }

        console.MarkupLine($"  policy: {Markup.Escape(explanation.PolicySource ?? "-")} revision {Markup.Escape(explanation.Revision ?? "-")}");
        return code;
    }
}
