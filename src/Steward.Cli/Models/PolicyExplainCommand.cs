using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Cli.AgentCommands;

namespace Steward.Cli.Models;

/// <summary>
/// <c>steward policy explain model &lt;id&gt; [--json]</c>: which rule decides a request for the model, and the facts behind
/// it (how the name resolved, where the model runs and where the policy allows, the group rule, Auto's candidates).
/// Exit 0 allowed, 1 refused.
/// </summary>
internal static class PolicyExplainCommand
{
    /// <summary>The <c>policy</c> command with <c>explain model</c> and <c>explain tool</c>.</summary>
    public static Command CreatePolicy(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var policy = new Command("policy", "Show and explain the policy that applies to you.");
        var explain = new Command("explain", "Explain which rule decides something.");
        explain.Subcommands.Add(Model(console, stdout, stderr, environment));
        explain.Subcommands.Add(PolicyExplainToolCommand.Create(console, stdout, stderr, environment));
        policy.Subcommands.Add(explain);
        return policy;
    }

    private static Command Model(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var id = new Argument<string>("model") { Description = "The model id, alias or provider model id." };
        var json = new Option<bool>("--json") { Description = "Print the explanation as JSON." };
        var server = ModelServer.ServerOption();
        var token = ModelServer.TokenOption();
        var command = new Command("model", "Which rule decides whether you may use a model.") { id, json, server, token };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var (document, exit) = await ModelServer.FetchAsync(stderr, parse.GetValue(server), parse.GetValue(token), env, "api/v1/models/explain?model=" + Uri.EscapeDataString(parse.GetValue(id)!), cancellationToken).ConfigureAwait(false);
            if (document is null)
            {
                return exit;
            }

            using (document)
            {
                var root = document.RootElement;
                var code = root.GetProperty("allowed").GetBoolean() ? ExitCodes.Ok : ExitCodes.Invalid;
                if (parse.GetValue(json))
                {
                    await stdout.WriteLineAsync(ModelsCommand.Indented(document)).ConfigureAwait(false);
                    return code;
                }

                foreach (var line in Lines(root))
                {
                    console.MarkupLine(line);
                }

                return code;
            }
        });
        return command;
    }

    /// <summary>The explanation for people, one fact a line (markup-escaped).</summary>
    internal static IEnumerable<string> Lines(JsonElement e)
    {
        string S(string name) => e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
        string List(string name) => e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0
            ? string.Join(", ", value.EnumerateArray().Select(v => v.GetString())) : "none";
        string X(string text) => Markup.Escape(text);

        var rule = S("rule");
        var requested = S("requested");
        yield return rule == "allowed"
            ? $"[green]allowed[/]: {X(requested)}"
            : $"[red]refused[/] ({X(rule)}): The requested model '{X(requested)}' is not available for your account.";
        if (S("modelId") is { Length: > 0 } modelId)
        {
            var how = S("resolvedBy") switch
            {
                "alias" => "an alias of",
                "provider-id" => $"the provider id of {X(S("requestedPlacement"))} inference of",
                _ => "the catalog id of",
            };
            yield return $"  it is {how} [bold]{X(modelId)}[/] ({X(S("status"))}{(S("scope") is { Length: > 0 } scope ? $", {X(scope)} inference" : "")}{(List("modelGeographies") is var g && g != "none" ? $" in {X(g)}" : "")})";
        }

        yield return $"  decided by the {X(S("profile"))} profile (revision {X(S("revision"))}){(List("groups") is var groups && groups != "none" ? $"; your groups: {X(groups)}" : "")}";
        switch (rule)
        {
            case "allowed":
                if (S("resolvedTo") is { Length: > 0 } resolved)
                {
                    yield return $"  Auto resolves to {X(resolved)} now";
                }

                yield return $"  runs in {X(S("placement") is { Length: > 0 } p ? p : "-")}{(S("providerModelId") is { Length: > 0 } provider ? $" as {X(provider)}" : "")}";
                if (S("notice") is { Length: > 0 } notice)
                {
                    yield return $"  [yellow]note[/]: {X(notice)}";
                }

                break;
            case "not_in_catalog":
                yield return "  no model with this id, alias or provider model id is in the catalog";
                break;
            case "retired":
                yield return $"  the model is retired{(S("successor") is { Length: > 0 } successor ? $"; its successor is {X(successor)}" : "")}";
                break;
            case "not_in_region":
                var runs = S("requestedPlacement") is { Length: > 0 } asked ? asked : S("scope") == "global" ? "global" : List("modelGeographies");
                yield return $"  its inference would run in {X(runs)}; the residency rule allows scopes {X(List("allowedScopes"))} and geographies {X(List("allowedGeographies"))}";
                break;
            case "disabled_by_policy":
                yield return "  an administrator disabled it in the profile";
                break;
            case "awaiting_approval":
                yield return $"  it arrived after the policy was saved and waits for an administrator's approval (new models: {X(S("newModels"))})";
                break;
            case "preview_not_allowed":
                yield return $"  a {X(S("status"))} model that arrived after the policy was saved: models that are not GA never arrive enabled";
                break;
            case "denied_for_group":
                yield return S("groupEffect") == "allowOnly"
                    ? $"  the rule for your group \"{X(S("group"))}\" allows only other models"
                    : $"  the rule for your group \"{X(S("group"))}\" denies it (deny wins)";
                break;
        }

        if (e.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array)
        {
            yield return "  Auto's candidates, in order:";
            foreach (var candidate in candidates.EnumerateArray())
            {
                var available = candidate.GetProperty("available").GetBoolean();
                yield return $"    {X(candidate.GetProperty("id").GetString()!)}: {(available ? "[green]available[/]" : X(candidate.GetProperty("reason").GetString()!))}";
            }
        }
    }
}
