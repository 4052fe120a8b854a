using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Cli.AgentCommands;
using Steward.Core.Json;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Cli.Registry;

/// <summary>
/// <c>steward registry validate &lt;file-or-url&gt; [--json]</c>: every problem with its path; exit 0 valid, 1 invalid, 2
/// unreadable (then, without --json, <c>error: </c> and why on standard error).
/// </summary>
internal static class ValidateCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr)
    {
        var location = new Argument<string>("file-or-url") { Description = "A server.json, an array of server.json, a Registry API page, or a Kiro registry file: a path or an http(s) URL." };
        var json = MachineOutput.JsonOption("Print the report as JSON (the same as --format json).");
        var format = new Option<string>("--format") { Description = "Output format: text (default) or json (the same as --json).", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var shape = new Option<string?>("--shape") { Description = "Read the document as this shape instead of detecting it." };
        shape.AcceptOnlyFromAmong("server", "array", "page", "kiro");
        var maxBytes = new Option<long>("--max-bytes") { Description = "Refuse documents larger than this many bytes.", DefaultValueFactory = _ => JsonLimits.DefaultMaxBytes };
        maxBytes.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long>() <= 0)
            {
                r.AddError("--max-bytes must be a positive number of bytes, such as 20971520");
            }
        });

        var command = new Command("validate", "Validate a registry document and print every problem with its JSON path.")
        {
            location, json, format, shape, maxBytes,
        };
        MachineOutput.JsonIsFormatJson(command, json, format);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new Request(
                parse.GetValue(location)!,
                MachineOutput.Format(parse, json, format) == "json",
                ParseShape(parse.GetValue(shape)),
                parse.GetValue(maxBytes));
            return await RunAsync(request, console, stdout, stderr, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record Request(string Location, bool Json, RegistryShape? Shape, long MaxBytes);

    internal static async Task<int> RunAsync(Request request, IAnsiConsole console, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var fetched = await DocumentSource.ReadAsync(request.Location, request.MaxBytes, cancellationToken).ConfigureAwait(false);
        var result = fetched.Failure is { } failure
            ? new LoadResult(null, [], failure)
            : RegistryLoader.Load(fetched.Bytes, request.Shape, new JsonLimits { MaxBytes = request.MaxBytes });

        var exitCode = result.Failure is not null ? ExitCodes.Unreadable : result.IsValid ? ExitCodes.Ok : ExitCodes.Invalid;
        if (request.Json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(Report.From(request.Location, result), CliJsonContext.Output.ValidationReport)).ConfigureAwait(false);
        }
        else
        {
            Render(console, stderr, request.Location, result);
        }

        return exitCode;
    }

    private static RegistryShape? ParseShape(string? shape) => shape switch
    {
        "server" => RegistryShape.ServerJson,
        "array" => RegistryShape.ServerJsonArray,
        "page" => RegistryShape.RegistryApiPage,
        "kiro" => RegistryShape.KiroFile,
        _ => null,
    };

    private static void Render(IAnsiConsole console, TextWriter stderr, string location, LoadResult result)
    {
        // A document that could not be read is an error, on standard error; its problems are the report, on standard output.
        if (result.Failure is { } failure)
        {
            AgentOutput.Error(stderr, $"{location}: {failure}");
            return;
        }

        foreach (var problem in result.Problems)
        {
            var (label, color) = problem.IsError ? ("error", "red") : ("warning", "yellow");
            var path = problem.Path.Length == 0 ? "(document)" : problem.Path;
            console.MarkupLineInterpolated($"[{color}]{label}[/] [bold]{path}[/]: {problem.Message} [grey]({problem.Rule})[/]");
            if (problem.Hint.Length > 0)
            {
                console.MarkupLineInterpolated($"  [grey]fix:[/] {problem.Hint}");
            }
        }

        var document = result.Document!;
        var errors = result.Problems.Count(p => p.IsError);
        var warnings = result.Problems.Count - errors;
        var verdict = errors == 0 ? "[green]valid[/]" : "[red]invalid[/]";
        console.MarkupLine($"{verdict}: {Markup.Escape(location)} — {Describe(document.Shape)}, {Plural(document.Entries.Count, "server version")}, {Plural(errors, "error")}, {Plural(warnings, "warning")}");
    }

    internal static string Describe(RegistryShape shape) => shape switch
    {
        RegistryShape.ServerJson => "server.json",
        RegistryShape.ServerJsonArray => "array of server.json",
        RegistryShape.RegistryApiPage => "Registry API page",
        RegistryShape.KiroFile => "Kiro registry file",
        _ => shape.ToString(),
    };

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";
}
