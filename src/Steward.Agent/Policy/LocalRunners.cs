using System.Collections.Immutable;
using Steward.Core.Admission;

namespace Steward.Agent.Policy;

/// <summary>
/// The local fact admission needs from this machine: which runner programs (npx, uvx, docker, podman, dnx) are on
/// <c>PATH</c>. Found once per command or policy change, never per call; a file is found as a launcher would find it
/// (on Windows with the <c>PATHEXT</c> extensions).
/// </summary>
public static class LocalRunners
{
    public static LocalFacts Detect() => Detect(Environment.GetEnvironmentVariable("PATH"));

    public static LocalFacts Detect(string? path)
    {
        var installed = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        var extensions = OperatingSystem.IsWindows()
            ? ["", .. (Environment.GetEnvironmentVariable("PATHEXT") ?? ".EXE;.CMD;.BAT").Split(';', StringSplitOptions.RemoveEmptyEntries)]
            : new[] { "" };
        var dirs = (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var runner in LocalFacts.RunnerPrograms)
        {
            if (dirs.Any(dir => extensions.Any(ext => IsExecutable(Path.Combine(dir, runner + ext)))))
            {
                installed.Add(runner);
            }
        }

        return new LocalFacts(installed.ToImmutable());
    }

    private static bool IsExecutable(string file)
    {
        if (!File.Exists(file))
        {
            return false;
        }

        return OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
    }
}
