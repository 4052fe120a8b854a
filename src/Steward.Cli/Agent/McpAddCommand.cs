using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Servers;
using Steward.Core.Config;

namespace Steward.Cli.AgentCommands;

/// <summary>
/// <c>steward mcp add [name]</c>: add an approved server. At a terminal it offers a picker of approved servers and asks
/// for required inputs (secrets masked); otherwise every input comes from flags and a missing one is an error.
/// </summary>
internal sealed class McpAddCommand
{
    private readonly IAnsiConsole console;
    private readonly TextWriter stdout;
    private readonly TextWriter stderr;
    private readonly AgentEnvironment? environment;

    private readonly Argument<string?> name = new("name") { Description = "The approved server's registry name. Without it, at a terminal, a picker lists the approved servers.", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> scope = McpCommand.ScopeOption("user (default): Steward's user mcp.json; workspace: .steward/mcp.json from the current directory.");
    private readonly Option<string[]> input = new("--input") { Description = "A value for a registry input, KEY=VALUE (a secret input's value goes to the 0600 secrets file, never mcp.json).", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string[]> secretEnv = new("--secret-env") { Description = "Give an input as a reference to an environment variable, KEY=VARIABLE (written as ${VARIABLE})." };
    private readonly Option<string[]> env = new("--env") { Description = "An environment variable of your own for a local server, NAME=VALUE (yours win over the registry's)." };
    private readonly Option<string[]> header = new("--header") { Description = "An HTTP header of your own for a remote server, NAME=VALUE." };
    private readonly Option<long?> timeout = new("--timeout") { Description = "Request timeout in milliseconds." };
    private readonly Option<bool> force = new("--force") { Description = "Replace an entry of the same name in the target file." };
    private readonly Option<bool> json = new("--json") { Description = "Print the result as JSON." };

    private McpAddCommand(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        this.console = console;
        this.stdout = stdout;
        this.stderr = stderr;
        this.environment = environment;
    }

    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var add = new McpAddCommand(console, stdout, stderr, environment);
        var command = new Command("add", "Add an approved MCP server from the registry (registry parameters are read-only).")
        {
            add.name, add.scope, add.input, add.secretEnv, add.env, add.header, add.timeout, add.force, add.json,
        };
        command.SetAction(add.RunAsync);
        return command;
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var context = environment ?? AgentEnvironment.FromProcess(console);
        var asJson = parse.GetValue(json);
        var inputs = AgentOutput.Pairs("--input", parse.GetValue(input), out var error1);
        var references = AgentOutput.Pairs("--secret-env", parse.GetValue(secretEnv), out var error2);
        var extraEnv = AgentOutput.Pairs("--env", parse.GetValue(env), out var error3);
        var extraHeaders = AgentOutput.Pairs("--header", parse.GetValue(header), out var error4);
        if ((error1 ?? error2 ?? error3 ?? error4) is { } flagError)
        {
            return await FailAsync(stdout, stderr, asJson, new AddResult(flagError, []), ExitCodes.Usage).ConfigureAwait(false);
        }

        if (parse.GetValue(timeout) is <= 0)
        {
            return await FailAsync(stdout, stderr, asJson, new AddResult($"--timeout {parse.GetValue(timeout)}: give a positive number of milliseconds", []), ExitCodes.Usage).ConfigureAwait(false);
        }

        var manager = McpCommand.Manager(context);
        var interactive = context.Interactive && !asJson;
        var serverName = parse.GetValue(name);
        if (serverName is null)
        {
            if (!interactive)
            {
                var approved = manager.Approved();
                return await FailAsync(stdout, stderr, asJson, new AddResult(
                    "name the server to add (no terminal for the picker); approved: " + (approved.Count == 0 ? "none" : string.Join(", ", approved.Select(a => a.Name))), [])).ConfigureAwait(false);
            }

            var offered = manager.Approved();
            if (offered.Count == 0)
            {
                var (_, why) = manager.Resolve("");
                return AgentOutput.Error(stderr, manager.Policy is Steward.Agent.Policy.PolicyState.Disabled ? why! : "the registry approves no server");
            }

            var picked = await new SelectionPrompt<ApprovedServer>()
                .Title("Which approved MCP server?")
                .PageSize(15)
                .EnableSearch()
                .UseConverter(s => $"{Markup.Escape(s.Name)} [grey]{Markup.Escape(s.Version)}[/] {Markup.Escape(s.Title ?? "")} [grey]— {Markup.Escape(s.Description)}[/]")
                .AddChoices(offered)
                .ShowAsync(console, cancellationToken).ConfigureAwait(false);
            serverName = picked.Name;
        }

        if (interactive && await AskMissingInputsAsync(manager, serverName, inputs, references, cancellationToken).ConfigureAwait(false) is { } resolveError)
        {
            return AgentOutput.Error(stderr, resolveError);
        }

        var request = new AddRequest(serverName, McpCommand.ParseScope(parse.GetValue(scope)) ?? ConfigScope.User, inputs, references, extraEnv, extraHeaders,
            parse.GetValue(timeout), parse.GetValue(force));
        AddResult result;
        try
        {
            result = manager.Add(request);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            result = new AddResult($"nothing was added: {e.Message}", []);
        }

        if (!result.Succeeded)
        {
            return await FailAsync(stdout, stderr, asJson, result).ConfigureAwait(false);
        }

        if (asJson)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(result, AgentJsonContext.Output.AddResult)).ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        console.MarkupLineInterpolated($"[green]{(result.Replaced ? "replaced" : "added")}[/] \"{result.Name}\" ({result.EntryKind} entry) to {result.File}");
        if (result.SecretsStored is { Count: > 0 } stored)
        {
            console.MarkupLineInterpolated($"  secrets kept in {context.Paths.SecretsFile} (0600) as {string.Join(", ", stored)}; mcp.json refers to them as ${{NAME}}");
        }

        if (result.Status is { } status)
        {
            console.MarkupLineInterpolated($"  {status.Decision}: {status.Message}");
        }

        return ExitCodes.Ok;
    }

    /// <summary>
    /// At a terminal: asks for each required input no flag gave (a secret masked, or as a reference to an environment
    /// variable), adding the answers to <paramref name="inputs"/> and <paramref name="references"/>; null, or why the
    /// server cannot be added.
    /// </summary>
    private async Task<string?> AskMissingInputsAsync(
        ServerManager manager, string serverName, List<KeyValuePair<string, string>> inputs, List<KeyValuePair<string, string>> references, CancellationToken cancellationToken)
    {
        var (target, resolveError) = manager.Resolve(serverName);
        if (target is null)
        {
            return resolveError!;
        }

        var missing = ServerManager.MissingInputs(target, inputs.Concat(references).Select(p => p.Key));
        foreach (var item in missing)
        {
            var label = $"{item.Key} ({item.Kind}{(item.Description is { Length: > 0 } d ? ": " + d : "")})";
            if (item.Secret && await AskReferenceAsync(console, label, cancellationToken).ConfigureAwait(false) is { } variable)
            {
                references.Add(new(item.Key, variable));
                continue;
            }

            var prompt = new TextPrompt<string>(Markup.Escape(label) + ":");
            if (item.Secret)
            {
                prompt = prompt.Secret();
            }

            inputs.Add(new(item.Key, await prompt.ShowAsync(console, cancellationToken).ConfigureAwait(false)));
        }

        return null;
    }

    /// <summary>For a secret: a variable name to reference, or null to type the value (kept in the secrets file).</summary>
    private static async Task<string?> AskReferenceAsync(IAnsiConsole console, string label, CancellationToken cancellationToken)
    {
        const string type = "type it now (kept in Steward's 0600 secrets file)";
        const string reference = "read it from an environment variable at launch";
        var how = await new SelectionPrompt<string>()
            .Title($"{Markup.Escape(label)} is secret. How should Steward get it?")
            .AddChoices(type, reference)
            .ShowAsync(console, cancellationToken).ConfigureAwait(false);
        if (how == type)
        {
            return null;
        }

        return await new TextPrompt<string>("Environment variable name:")
            .Validate(v => EnvReferences.IsName(v) ? ValidationResult.Success() : ValidationResult.Error("letters, digits and _, not starting with a digit"))
            .ShowAsync(console, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> FailAsync(TextWriter stdout, TextWriter stderr, bool json, AddResult result, int exitCode = ExitCodes.Invalid)
    {
        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(result, AgentJsonContext.Output.AddResult)).ConfigureAwait(false);
            return exitCode;
        }

        AgentOutput.Error(stderr, result.Error!);
        foreach (var missing in result.Missing)
        {
            await stderr.WriteLineAsync($"  missing: {missing.Key} ({missing.Kind}{(missing.Secret ? ", secret" : "")}){(missing.Description is { Length: > 0 } d ? ": " + d : "")}").ConfigureAwait(false);
        }

        return exitCode;
    }
}
