using System.CommandLine;
using Spectre.Console;
using Steward.Cli.AgentCommands;
using Steward.Cli.Registry;
using Steward.Cli.Serve;

namespace Steward.Cli;

/// <summary>The <c>steward</c> command tree. Commands parse arguments and render results; the work is in Core.</summary>
public static class Cli
{
    /// <summary>
    /// The whole tree, or with <paramref name="only"/> just that top-level command: a command's subtree (and whatever its
    /// factory touches: the server, ASP.NET Core, Spectre renderers) is built only when it is the one invoked, which keeps
    /// the start of every other command short. An empty <paramref name="only"/> builds the root alone (<c>--version</c>).
    /// </summary>
    public static RootCommand Build(IAnsiConsole console, TextWriter stdout, TextWriter stderr, string? only = null)
    {
        var root = new RootCommand("Steward: governance for MCP servers and AI models.");
        foreach (var (name, create) in Commands(console, stdout, stderr))
        {
            if (only is null || only == name)
            {
                root.Subcommands.Add(create());
            }
        }

        return root;
    }

    private static (string Name, Func<Command> Create)[] Commands(IAnsiConsole console, TextWriter stdout, TextWriter stderr) =>
        [
            ("registry", () =>
            {
                var registry = new Command("registry", "Work with registry documents (server.json, Registry API pages, Kiro registry files).");
                registry.Subcommands.Add(ValidateCommand.Create(console, stdout, stderr));
                registry.Subcommands.Add(ExportCommand.Create(stdout, stderr));
                return registry;
            }),
            ("serve", () => ServeCommand.Create(stderr)),
            ("login", () => LoginCommand.Create(console, stdout, stderr)),
            ("sync", () => SyncCommand.Create(console, stdout, stderr)),
            ("mcp", () => McpCommand.Create(console, stdout, stderr)),
            ("gateway", () => Gateway.GatewayCommand.Create(stderr)),
            ("logs", () => Gateway.LogsCommand.Create(stdout, stderr)),
            ("models", () => Models.ModelsCommand.Create(console, stdout, stderr)),
            ("policy", () => Models.PolicyExplainCommand.CreatePolicy(console, stdout, stderr)),
            ("scan", () => Scan.ScanCommand.Create(console, stdout, stderr)),
            ("audit", () => Audit.AuditCommand.Create(console, stdout, stderr)),
        ];

    /// <summary>The top-level command to build for <paramref name="args"/>: its name, "" for the root alone (<c>--version</c>), null for all (help, errors).</summary>
    internal static string? Invoked(string[] args) => args switch
    {
        ["--version"] => "",
        [var first, ..] when first is "registry" or "serve" or "login" or "sync" or "mcp" or "gateway" or "logs" or "models" or "policy" or "scan" or "audit" => first,
        _ => null,
    };

    public static async Task<int> RunAsync(string[] args, IAnsiConsole console, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var invoked = Invoked(args);
        var root = Build(console, stdout, stderr, invoked);
        var configuration = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        if (invoked == "gateway")
        {
            // The gateway handles SIGINT and SIGTERM itself and stops in order (GatewayCommand); the command line's own
            // handler would end the process after two seconds with 130 or 143, its last calls unsent.
            configuration.ProcessTerminationTimeout = null;
        }

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // A command line that does not parse is a usage error: exit 2 with each problem on its own line, as the
            // docs promise for bad options, rather than the parser's exit 1 that means "refused".
            foreach (var error in parsed.Errors)
            {
                await stderr.WriteLineAsync("steward: " + error.Message).ConfigureAwait(false);
            }

            await stderr.WriteLineAsync($"Run '{string.Join(' ', ["steward", .. Path(parsed.CommandResult)])} --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The subcommands from the root to <paramref name="result"/>, the root itself left out.</summary>
    private static IEnumerable<string> Path(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new Stack<string>();
        for (System.CommandLine.Parsing.SymbolResult? at = result; at is not null; at = at.Parent)
        {
            if (at is System.CommandLine.Parsing.CommandResult { Parent: not null } command)
            {
                names.Push(command.Command.Name);
            }
        }

        return names;
    }
}
