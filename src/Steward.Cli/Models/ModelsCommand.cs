using System.CommandLine;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent.Models;
using Steward.Cli.AgentCommands;
using Steward.Core.Models;

namespace Steward.Cli.Models;

/// <summary>
/// <c>steward models list [--all] [--json]</c>: the models this developer may use, the default marked (with <c>--all</c>
/// the others too, each with its reason); <c>steward models use &lt;id&gt;</c>: choose one (refused with the reason), recorded
/// in <c>models.json</c> in the configuration directory. Both ask the Steward server, which decides with the same
/// evaluator its model endpoint enforces with.
/// </summary>
internal static class ModelsCommand
{
    public const string ChoiceFileName = ModelChoice.FileName;

    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var command = new Command("models", "List the models you may use and choose one.");
        command.Subcommands.Add(List(console, stdout, stderr, environment));
        command.Subcommands.Add(Use(console, stdout, stderr, environment));
        return command;
    }

    private static Command List(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var all = new Option<bool>("--all") { Description = "Also list the models you may not use, each with the reason." };
        var json = new Option<bool>("--json") { Description = "Print the server's listing as JSON." };
        var server = ModelServer.ServerOption();
        var token = ModelServer.TokenOption();
        var command = new Command("list", "List the models you may use; the default is marked.") { all, json, server, token };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var (document, exit) = await ModelServer.FetchAsync(stderr, parse.GetValue(server), parse.GetValue(token), env, "api/v1/models" + (parse.GetValue(all) ? "?all=true" : ""), cancellationToken).ConfigureAwait(false);
            if (document is null)
            {
                return exit;
            }

            using (document)
            {
                if (parse.GetValue(json))
                {
                    await stdout.WriteLineAsync(Indented(document)).ConfigureAwait(false);
                    return ExitCodes.Ok;
                }

                ModelsListing listing;
                try
                {
                    listing = ModelListingWire.Read(document.RootElement);
                }
                catch (ModelListingException e)
                {
                    return AgentOutput.Error(stderr, $"the server's model listing is not one this steward reads ({e.Message}); update steward or ask your administrator which version the server expects", ExitCodes.Unreadable);
                }

                Render(console, listing, parse.GetValue(all));
                return ExitCodes.Ok;
            }
        });
        return command;
    }

    private static void Render(IAnsiConsole console, ModelsListing listing, bool all)
    {
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("");
        table.AddColumn("Model");
        table.AddColumn("Name");
        table.AddColumn("Status");
        table.AddColumn("Inference");
        table.AddColumn(all ? "Available" : "Runs in");
        foreach (var model in listing.Models)
        {
            var where = model.Available
                ? (model.ResolvesTo is { } resolved ? $"→ {resolved} " : "") + (model.Placement is { Length: > 0 } p ? p : "-")
                : model.Reason ?? "unavailable";
            table.AddRow(
                model.IsDefault ? "*" : "",
                Markup.Escape(model.Id),
                Markup.Escape(model.DisplayName),
                Markup.Escape(model.Status),
                Markup.Escape(model.Scope ?? "auto"),
                model.Available ? Markup.Escape(all ? "yes (" + where + ")" : where) : $"[red]no: {Markup.Escape(where)}[/]");
        }

        if (listing.Models.Count == 0)
        {
            console.MarkupLine("no model is available to you; ask your Steward administrator");
        }
        else
        {
            console.Write(table);
            console.MarkupLine("* the default model");
        }

        if (listing.DefaultFallback is { } fallback)
        {
            console.MarkupLineInterpolated($"[yellow]note[/]: {fallback.Message}");
        }
    }

    private static Command Use(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var id = new Argument<string>("model") { Description = "The model id, alias or provider model id." };
        var json = new Option<bool>("--json") { Description = "Print the decision as JSON." };
        var server = ModelServer.ServerOption();
        var token = ModelServer.TokenOption();
        var command = new Command("use", "Choose the model to use; refused with the reason when your policy does not allow it.") { id, json, server, token };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var requested = parse.GetValue(id)!;
            var (document, exit) = await ModelServer.FetchAsync(stderr, parse.GetValue(server), parse.GetValue(token), env, "api/v1/models/explain?model=" + Uri.EscapeDataString(requested), cancellationToken).ConfigureAwait(false);
            if (document is null)
            {
                return exit;
            }

            using (document)
            {
                var decision = ModelAnswer.Read(document.RootElement);
                if (decision.Allowed)
                {
                    var record = ModelChoice.Of(decision, requested, env.Time.GetUtcNow());
                    record.Save(env.Paths);
                    if (parse.GetValue(json))
                    {
                        await stdout.WriteLineAsync(Indented(document)).ConfigureAwait(false);
                        return ExitCodes.Ok;
                    }

                    var chosen = decision.Chosen!;
                    console.MarkupLineInterpolated($"[green]using[/] {record.Model}{(chosen != record.Model ? $" (now {chosen})" : "")} in {record.Placement ?? "-"}{(record.ProviderModelId is { } p ? $" as {p}" : "")}");
                    if (decision.Notice is { } notice)
                    {
                        console.MarkupLineInterpolated($"[yellow]note[/]: {notice}");
                    }

                    return ExitCodes.Ok;
                }

                if (parse.GetValue(json))
                {
                    await stdout.WriteLineAsync(Indented(document)).ConfigureAwait(false);
                    return ExitCodes.Invalid;
                }

                console.MarkupLineInterpolated($"[red]refused[/] ({decision.Rule}): The requested model '{requested}' is not available for your account.");
                console.MarkupLineInterpolated($"  see why: steward policy explain model {requested}");
                return ExitCodes.Invalid;
            }
        });
        return command;
    }

    internal static string Indented(JsonDocument document)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            document.WriteTo(writer);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
