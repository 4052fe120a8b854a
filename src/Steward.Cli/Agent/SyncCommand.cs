using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Policy;
using Steward.Agent.Sync;

namespace Steward.Cli.AgentCommands;

/// <summary><c>steward sync</c>: fetch the policy now and print what changed (servers added, removed, upgraded; models added, removed, the default).</summary>
internal static class SyncCommand
{
    private const int ProblemsShown = 20;

    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("sync", "Fetch the policy from its source now, verify it, and print what changed.") { json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            using var sync = new PolicySync(env.Paths, env.Time, environment: env.Variables);
            var result = await sync.SyncAsync(cancellationToken).ConfigureAwait(false);
            var approved = sync.Snapshot is { } snapshot ? RegistryChanges.Latest(snapshot.Registry).Count : (int?)null;
            var exit = result.Outcome switch
            {
                SyncOutcome.Updated or SyncOutcome.Unchanged => ExitCodes.Ok,
                SyncOutcome.Unreachable => ExitCodes.Unreadable,
                _ => ExitCodes.Invalid,
            };
            if (parse.GetValue(json))
            {
                var governsModels = sync.Snapshot?.Models is not null || sync.Source?.Kind == Steward.Agent.Sources.SourceKind.StewardServer;
                await stdout.WriteLineAsync(JsonSerializer.Serialize(SyncReport.From(result, approved, governsModels), AgentJsonContext.Output.SyncReport)).ConfigureAwait(false);
                return exit;
            }

            Render(console, stderr, result, approved);
            return exit;
        });
        return command;
    }

    /// <summary>
    /// What changed, on standard output; a failed sync's error and the problems it was rejected for (a rejected
    /// registry's only) on standard error. Which policy stays in force is the result, and stays on standard output.
    /// </summary>
    private static void Render(IAnsiConsole console, TextWriter stderr, SyncResult result, int? approved)
    {
        if (result.Succeeded)
        {
            console.MarkupLineInterpolated($"[green]{(result.Outcome == SyncOutcome.Updated ? "updated" : "unchanged")}[/]: {result.Message}; {approved} approved server{(approved == 1 ? "" : "s")}");
        }
        else
        {
            AgentOutput.Error(stderr, result.Message);
        }

        foreach (var added in result.Changes.Added)
        {
            console.MarkupLineInterpolated($"  [green]+ added[/]    {added.Name} {added.Version}");
        }

        foreach (var removed in result.Changes.Removed)
        {
            console.MarkupLineInterpolated($"  [red]- removed[/]  {removed.Name} {removed.Version}");
        }

        foreach (var upgraded in result.Changes.Upgraded)
        {
            console.MarkupLineInterpolated($"  [blue]^ upgraded[/] {upgraded.Name} {upgraded.From} -> {upgraded.To}");
        }

        foreach (var added in result.ModelChanges.Added)
        {
            console.MarkupLineInterpolated($"  [green]+ model[/]    {added.Id}{(added.DisplayName is { } name && name != added.Id ? $" ({name})" : "")}");
        }

        foreach (var removed in result.ModelChanges.Removed)
        {
            console.MarkupLineInterpolated($"  [red]- model[/]    {removed.Id}");
        }

        if (result.ModelChanges.Default is { } change)
        {
            console.MarkupLineInterpolated($"  [blue]* default model[/] {change.From ?? "(none)"} -> {change.To ?? "(none)"}");
        }

        if (result.Outcome == SyncOutcome.Updated && !result.Changes.Any)
        {
            console.MarkupLine(result.ModelChanges.Any ? "  no server was added, removed or upgraded" : "  no server or model was added, removed or upgraded");
        }

        foreach (var problem in result.Problems.Take(ProblemsShown))
        {
            stderr.WriteLine($"  {problem.Path}: {problem.Message} ({problem.Rule})");
        }

        if (result.Problems.Count > ProblemsShown)
        {
            stderr.WriteLine($"  … and {result.Problems.Count - ProblemsShown} more (see `steward registry validate`)");
        }

        switch (result.State)
        {
            case PolicyState.Active { Stale: true } active when !result.Succeeded:
                var until = active.Snapshot.MaxOfflineAge is { } max ? $" until {(active.Snapshot.FetchedAt + max).UtcDateTime:yyyy-MM-dd HH:mm} UTC" : "";
                console.MarkupLineInterpolated($"  [yellow]stale[/]: the policy last confirmed at {active.Snapshot.FetchedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC stays in force{until}");
                break;
            case PolicyState.Disabled disabled:
                console.MarkupLineInterpolated($"  [red]MCP disabled[/]: {disabled.Reason}");
                console.MarkupLineInterpolated($"  what to do: {disabled.WhatToDo}");
                break;
        }
    }
}
