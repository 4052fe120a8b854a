using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Steward.Agent;
using Steward.Cli.AgentCommands;

namespace Steward.Cli.Tests.AgentCommands;

/// <summary>Runs the agent commands in-process against a test's own configuration directory and working directory.</summary>
internal static class AgentCliRunner
{
    public static async Task<CliRunner.Outcome> RunAsync(StewardPaths paths, string workingDirectory, string home, TimeProvider time, params string[] args)
    {
        var human = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(human),
        });
        console.Profile.Width = 4096;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var environment = new AgentEnvironment(paths, workingDirectory, home, _ => null, Interactive: false, time);
        var root = new RootCommand("steward")
        {
            LoginCommand.Create(console, stdout, stderr, environment),
            SyncCommand.Create(console, stdout, stderr, environment),
            McpCommand.Create(console, stdout, stderr, environment),
        };
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stdout }, CancellationToken.None);
        return new CliRunner.Outcome(exit, human + stdout.ToString(), stderr.ToString());
    }

    /// <summary>The built <c>steward</c> as a child process with its own configuration directory and working directory.</summary>
    public static Task<CliRunner.Outcome> RunProcessAsync(string configDirectory, string workingDirectory, params string[] args) =>
        RunProcessAsync(configDirectory, workingDirectory, new Dictionary<string, string?>(), args);

    /// <summary>As <see cref="RunProcessAsync(string, string, string[])"/>, with these environment variables set (null removes one).</summary>
    public static async Task<CliRunner.Outcome> RunProcessAsync(string configDirectory, string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "steward.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.Environment[StewardPaths.ConfigDirectoryVariable] = configDirectory;
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new CliRunner.Outcome(process.ExitCode, await stdout, await stderr);
    }
}
