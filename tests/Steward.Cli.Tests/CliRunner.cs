using System.Diagnostics;
using Spectre.Console;

namespace Steward.Cli.Tests;

/// <summary>Runs <c>steward</c> in-process with captured consoles, or as a real child process.</summary>
internal static class CliRunner
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr);

    public static async Task<Outcome> RunAsync(params string[] args)
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
        var exit = await Cli.RunAsync(args, console, stdout, stderr, CancellationToken.None);
        return new Outcome(exit, human + stdout.ToString(), stderr.ToString());
    }

    /// <summary>The built CLI as a child process: what a user's shell sees.</summary>
    public static async Task<Outcome> RunProcessAsync(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "steward.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new Outcome(process.ExitCode, await stdout, await stderr);
    }
}
