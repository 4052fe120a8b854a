using System.CommandLine;
using Spectre.Console;
using Steward.Cli.AgentCommands;
using Steward.Cli.Registry;
using Steward.Cli.Serve;

namespace Steward.Cli;

/// <summary>The <c>steward</c> command tree. Commands parse arguments and render results; the work is in Core.</summary>
public static class Cli
{
    public static RootCommand Build(IAnsiConsole console, TextWriter stdout)
    {
        var root = new RootCommand("Steward: governance for MCP servers and AI models.");
        var registry = new Command("registry", "Work with registry documents (server.json, Registry API pages, Kiro registry files).");
        registry.Subcommands.Add(ValidateCommand.Create(console, stdout));
        registry.Subcommands.Add(ExportCommand.Create(stdout, Console.Error));
        root.Subcommands.Add(registry);
        root.Subcommands.Add(ServeCommand.Create(Console.Error));
        root.Subcommands.Add(LoginCommand.Create(console, stdout));
        root.Subcommands.Add(SyncCommand.Create(console, stdout));
        root.Subcommands.Add(McpCommand.Create(console, stdout));
        root.Subcommands.Add(Gateway.GatewayCommand.Create(Console.Error));
        root.Subcommands.Add(Models.ModelsCommand.Create(console, stdout));
        root.Subcommands.Add(Models.PolicyExplainCommand.CreatePolicy(console, stdout));
        root.Subcommands.Add(Scan.ScanCommand.Create(console, stdout, Console.Error));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, IAnsiConsole console, TextWriter stdout, CancellationToken cancellationToken)
    {
        var root = Build(console, stdout);
        var configuration = new InvocationConfiguration { Output = stdout, Error = Console.Error, EnableDefaultExceptionHandler = false };
        return await root.Parse(args).InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }
}
