using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Steward.Core.Launch;
using Steward.Core.Sandbox;

namespace Steward.Agent.Sandbox;

/// <summary>Where the launch runs: the bridge command, Steward's configuration directory (always hidden), the home directory.</summary>
public sealed record SandboxHost
{
    /// <summary>The argv prefix that runs <see cref="SandboxBridge"/> (<c>steward sandbox-bridge</c>); null: network modes other than none cannot be made.</summary>
    public IReadOnlyList<string>? Bridge { get; init; }

    public string? ConfigDirectory { get; init; }

    public string? Home { get; init; } = Environment.GetEnvironmentVariable("HOME");

    /// <summary>Where bubblewrap is; null: <c>STEWARD_BWRAP</c>, else <c>/usr/bin/bwrap</c>, else <c>bwrap</c> on PATH.</summary>
    public string? Bwrap { get; init; }
}

/// <summary>The command to start instead of the server's own, the proxy it needs (owned by the caller), and what to report.</summary>
public sealed record SandboxedLaunch(string Command, IReadOnlyList<string> Args, SandboxProxy? Proxy, string? TempDirectory, SandboxStatus Status) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        if (Proxy is not null)
        {
            await Proxy.DisposeAsync().ConfigureAwait(false);
        }

        if (TempDirectory is not null)
        {
            try
            {
                Directory.Delete(TempDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}

/// <summary>A server's sandbox as it runs: enforced (by what, with what it may touch), off, or not enforced and why.</summary>
public sealed record SandboxStatus(string State, string? Enforcer, string Detail)
{
    public const string Enforced = "enforced";
    public const string NotEnforced = "not-enforced";
    public const string Off = "off";

    public static SandboxStatus None { get; } = new(Off, null, "no sandbox (mode off)");

    public override string ToString() => State switch
    {
        Enforced => $"enforced by {Enforcer}: {Detail}",
        NotEnforced => "NOT enforced: " + Detail,
        _ => Detail,
    };
}

/// <summary>
/// Wraps a local server's launch in its sandbox: bubblewrap on Linux (plus the filtering proxy and the in-sandbox
/// bridge when the network is not <c>none</c>), docker flags for OCI images, <c>sandbox-exec</c> on macOS. Mode
/// <c>on</c> fails closed with what is missing and how to install it; <c>prefer</c> starts unsandboxed with a warning.
/// </summary>
public static class SandboxLauncher
{
    /// <summary>Overrides where bubblewrap is (default: <c>/usr/bin/bwrap</c>, else <c>bwrap</c> on PATH).</summary>
    public const string BwrapVariable = "STEWARD_BWRAP";

    public const string InstallHint = "install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap; Arch: sudo pacman -S bubblewrap)";

    private static readonly ConcurrentDictionary<string, string?> Probes = new(StringComparer.Ordinal);

    /// <summary>bubblewrap's path, or why it cannot be used (missing, or unable to make namespaces here).</summary>
    public static (string? Path, string? Problem) FindBwrap(string? configured = null)
    {
        configured ??= Environment.GetEnvironmentVariable(BwrapVariable);
        string? path;
        if (!string.IsNullOrEmpty(configured))
        {
            path = File.Exists(configured) ? configured : null;
            if (path is null)
            {
                return (null, $"bubblewrap is not at {configured} (set by {BwrapVariable}): {InstallHint}, or point {BwrapVariable} at it");
            }
        }
        else
        {
            path = File.Exists("/usr/bin/bwrap") ? "/usr/bin/bwrap" : OnPath("bwrap", Environment.GetEnvironmentVariable("PATH"));
            if (path is null)
            {
                return (null, $"bubblewrap (bwrap) is not installed: {InstallHint}");
            }
        }

        var problem = Probes.GetOrAdd(path, ProbeBwrap);
        return problem is null ? (path, null) : (null, problem);
    }

    /// <summary>Whether bubblewrap can make the namespaces here (it cannot in some containers, or where unprivileged user namespaces are turned off).</summary>
    private static string? ProbeBwrap(string bwrap)
    {
        var start = new ProcessStartInfo(bwrap) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--unshare-net", "--die-with-parent", "--cap-drop", "ALL", "--", "/bin/true" })
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(10_000))
            {
                process.Kill(entireProcessTree: true);
                return $"bubblewrap at {bwrap} did not answer within 10 s";
            }

            return process.ExitCode == 0
                ? null
                : $"bubblewrap at {bwrap} cannot create the sandbox's namespaces here ({stderr.Trim()}): allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 an AppArmor profile for bwrap or kernel.apparmor_restrict_unprivileged_userns=0), or run outside a container that forbids them";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"bubblewrap at {bwrap} cannot be run ({e.Message}): {InstallHint}";
        }
    }

    /// <summary>What <c>steward mcp status</c> says of a server's sandbox on this machine, without starting it.</summary>
    public static string Availability(SandboxProfile profile, string? command)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (profile.Mode == SandboxMode.Off)
        {
            return "off";
        }

        string? problem;
        string enforcer;
        if (command is Runners.Docker or Runners.Podman)
        {
            enforcer = command + " flags";
            problem = profile.NeedsProxy ? $"network mode {SandboxProfile.NetworkName(profile.Network)} is not available for OCI servers yet" : null;
        }
        else if (OperatingSystem.IsLinux())
        {
            enforcer = "bubblewrap";
            problem = FindBwrap().Problem;
        }
        else if (OperatingSystem.IsMacOS())
        {
            enforcer = "sandbox-exec";
            problem = File.Exists("/usr/bin/sandbox-exec") ? null : "sandbox-exec is missing";
        }
        else
        {
            enforcer = "none";
            problem = "the sandbox is not available on Windows yet";
        }

        var outcome = problem is null
            ? $"will be enforced by {enforcer}"
            : profile.Mode == SandboxMode.On ? $"cannot be made here, so the server will not start: {problem}" : $"cannot be made here, so the server starts WITHOUT it: {problem}";
        return $"{outcome} — {profile.Describe()}";
    }

    /// <summary>
    /// The launch wrapped in the sandbox. Throws <see cref="Gateway.UpstreamStartException"/> in mode <c>on</c> when the
    /// sandbox cannot be made; returns the launch unchanged (with a warning status) in mode <c>prefer</c>.
    /// </summary>
    public static SandboxedLaunch Wrap(string server, SandboxProfile profile, string command, IReadOnlyList<string> args, IReadOnlyDictionary<string, string?> environment,
        IDictionary<string, string?> addEnvironment, string? workingDirectory, SandboxHost host, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(addEnvironment);
        if (profile.Mode == SandboxMode.Off)
        {
            return new SandboxedLaunch(command, args, null, null, SandboxStatus.None);
        }

        SandboxedLaunch Unsandboxed(string why, string? enforcer)
        {
            if (profile.Mode == SandboxMode.On)
            {
                throw new Gateway.UpstreamStartException($"its sandbox (mode on) cannot be made, so it is not started: {why}");
            }

            SandboxLog.Unsandboxed(logger, server, why);
            return new SandboxedLaunch(command, args, null, null, new SandboxStatus(SandboxStatus.NotEnforced, enforcer, why + " (mode prefer: started without it)"));
        }

        var home = host.Home is { Length: > 0 } h ? h : "/nonexistent-home";
        var context = new SandboxContext
        {
            Home = home,
            WorkspaceFolder = workingDirectory ?? Environment.CurrentDirectory,
            Variable = name => environment.TryGetValue(name, out var value) ? value : null,
            ExtraHidden = host.ConfigDirectory is { } config ? [config] : [],
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            SupportPaths = [.. SupportPaths(command, environment.GetValueOrDefault("PATH"), home), .. (host.Bridge ?? []).Take(2).Where(Path.IsPathRooted).SelectMany(p => SupportPaths(p, null, home))],
            Probe = Probe,
        };
        var (resolved, problems) = SandboxPlanner.Resolve(profile, context);
        if (resolved is null)
        {
            return Unsandboxed(string.Join("; ", problems.Select(p => $"{p.Path}: {p.Message} ({p.Hint})")), null);
        }

        if (command is Runners.Docker or Runners.Podman)
        {
            var (dockerArgs, dockerProblems) = SandboxPlanner.DockerArgs(resolved, [.. args]);
            if (!dockerProblems.IsEmpty)
            {
                return Unsandboxed(string.Join("; ", dockerProblems.Select(p => $"{p.Message} ({p.Hint})")), command + " flags");
            }

            SandboxLog.Sandboxed(logger, server, command + " flags", profile.Describe());
            return new SandboxedLaunch(command, dockerArgs, null, null, new SandboxStatus(SandboxStatus.Enforced, command + " flags", profile.Describe()));
        }

        if (OperatingSystem.IsLinux())
        {
            var (bwrap, missing) = FindBwrap(host.Bwrap);
            if (bwrap is null)
            {
                return Unsandboxed(missing!, "bubblewrap");
            }

            if (profile.NeedsProxy && host.Bridge is null)
            {
                return Unsandboxed("the network bridge cannot be run from this process (run the gateway as steward gateway)", "bubblewrap");
            }

            string? temp = null;
            SandboxProxy? proxy = null;
            if (profile.NeedsProxy)
            {
                temp = Path.Combine(Path.GetTempPath(), "steward-sbx-" + Guid.NewGuid().ToString("N")[..12]);
                Directory.CreateDirectory(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                proxy = SandboxProxy.ListenUnix(Path.Combine(temp, "proxy.sock"), profile.EffectiveAllow, server, logger);
                foreach (var (key, value) in SandboxPlanner.ProxyEnvironment(SandboxPlanner.ProxyPort))
                {
                    addEnvironment[key] = value;
                }
            }

            var options = SandboxPlanner.CoverFiles(SandboxPlanner.BwrapArgs(resolved, proxy?.SocketPath), Probe);
            List<string> inner = proxy is null
                ? [command, .. args]
                : [.. host.Bridge!, "--port", SandboxPlanner.ProxyPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--socket", SandboxPlanner.ProxySocketPath, "--", command, .. args];
            SandboxLog.Sandboxed(logger, server, "bubblewrap", profile.Describe());
            return new SandboxedLaunch(bwrap, [.. options, "--", .. inner], proxy, temp, new SandboxStatus(SandboxStatus.Enforced, "bubblewrap", profile.Describe()));
        }

        if (OperatingSystem.IsMacOS())
        {
            const string seatbelt = "/usr/bin/sandbox-exec";
            if (!File.Exists(seatbelt))
            {
                return Unsandboxed("sandbox-exec is missing (it ships with macOS)", "sandbox-exec");
            }

            var temp = Path.Combine(Path.GetTempPath(), "steward-sbx-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            addEnvironment["TMPDIR"] = temp;
            SandboxProxy? proxy = profile.NeedsProxy ? SandboxProxy.ListenLoopback(profile.EffectiveAllow, server, logger) : null;
            if (proxy is not null)
            {
                foreach (var (key, value) in SandboxPlanner.ProxyEnvironment(proxy.Port))
                {
                    addEnvironment[key] = value;
                }
            }

            var text = SandboxPlanner.SeatbeltProfile(resolved, temp, proxy?.Port);
            SandboxLog.Sandboxed(logger, server, "sandbox-exec", profile.Describe());
            return new SandboxedLaunch(seatbelt, ["-p", text, command, .. args], proxy, temp, new SandboxStatus(SandboxStatus.Enforced, "sandbox-exec", profile.Describe()));
        }

        return Unsandboxed("the sandbox is not available on Windows yet", null);
    }

    private static PathKind Probe(string path) =>
        Directory.Exists(path) ? PathKind.Directory : File.Exists(path) ? PathKind.File : PathKind.Missing;

    /// <summary>
    /// The directories a program needs readable when it lives in the home directory (which the sandbox hides): its
    /// directory, or the prefix above a <c>bin</c> directory, both for the path found on PATH and for its real target.
    /// </summary>
    internal static IEnumerable<string> SupportPaths(string command, string? path, string home)
    {
        var found = Path.IsPathRooted(command) ? command : OnPath(command, path);
        if (found is null)
        {
            yield break;
        }

        var candidates = new List<string> { found };
        try
        {
            if (new FileInfo(found).ResolveLinkTarget(returnFinalTarget: true) is { } target)
            {
                candidates.Add(target.FullName);
            }
        }
        catch (IOException)
        {
        }

        foreach (var candidate in candidates)
        {
            // Elsewhere the system is visible read-only already; the home directory and /tmp are not.
            if (!SandboxPlanner.IsUnder(candidate, home) && !SandboxPlanner.IsUnder(candidate, Path.GetTempPath().TrimEnd('/')) && !SandboxPlanner.IsUnder(candidate, "/tmp"))
            {
                continue;
            }

            var dir = Path.GetDirectoryName(candidate)!;
            yield return Path.GetFileName(dir) == "bin" && Path.GetDirectoryName(dir) is { } prefix && prefix != home ? prefix : dir;
        }
    }

    internal static string? OnPath(string command, string? path)
    {
        if (command.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(command) ? Path.GetFullPath(command) : null;
        }

        foreach (var dir in (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, command);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
