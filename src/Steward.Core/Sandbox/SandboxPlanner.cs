using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Steward.Core.Validation;

namespace Steward.Core.Sandbox;

public enum PathKind
{
    Missing,
    File,
    Directory,
}

/// <summary>
/// What a profile's variables and the machine's layout are at launch: the home directory, the workspace, the server's
/// configured environment (for <c>${NAME}</c>), paths to hide on top of the profile's, read-only paths the launch itself
/// needs (the server's runtime when it lives in the home directory), and a probe of what exists (the only I/O, passed in).
/// </summary>
public sealed record SandboxContext
{
    public required string Home { get; init; }

    public string? WorkspaceFolder { get; init; }

    public Func<string, string?> Variable { get; init; } = _ => null;

    /// <summary>Paths always hidden besides <see cref="SandboxRules.AlwaysHidden"/> (Steward's own configuration directory).</summary>
    public ImmutableArray<string> ExtraHidden { get; init; } = [];

    /// <summary>Read-only paths the launch needs visible (the server's program and runtime, the network bridge).</summary>
    public ImmutableArray<string> SupportPaths { get; init; } = [];

    public string? WorkingDirectory { get; init; }

    public Func<string, PathKind> Probe { get; init; } = _ => PathKind.Missing;
}

/// <summary>A profile with its variables expanded: absolute, normalised paths.</summary>
public sealed record ResolvedSandbox(
    SandboxProfile Profile,
    string Home,
    ImmutableArray<SandboxPath> Paths,
    ImmutableArray<string> Hidden,
    ImmutableArray<string> SupportPaths,
    string? WorkingDirectory)
{
    /// <summary>True when <paramref name="path"/> is visible to the server (the system outside the home directory, or under a declared or support path).</summary>
    public bool IsVisible(string path) =>
        (Paths.Any(p => SandboxPlanner.IsUnder(path, p.Path)) || SupportPaths.Any(p => SandboxPlanner.IsUnder(path, p)) ||
         !(SandboxPlanner.IsUnder(path, Home) || SandboxPlanner.IsUnder(path, "/tmp") || SandboxPlanner.IsUnder(path, "/run"))) &&
        !Hidden.Any(h => SandboxPlanner.IsUnder(path, h));
}

/// <summary>
/// Turns a profile into what enforces it, as pure text: bubblewrap's argument vector (Linux), docker's flags (OCI
/// entries), a <c>sandbox-exec</c> profile (macOS). No process is started here.
/// </summary>
public static partial class SandboxPlanner
{
    /// <summary>Inside the sandbox: the bridge's loopback port (the sandbox has its own network namespace, so nothing else holds it).</summary>
    public const int ProxyPort = 3128;

    /// <summary>Inside the sandbox: where the gateway's proxy socket is bound.</summary>
    public const string ProxySocketPath = "/run/steward/proxy.sock";

    public static string ProxyUrl(int port) => "http://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The variables that point a server's HTTP clients at the proxy (most clients read one spelling or the other).</summary>
    public static ImmutableArray<KeyValuePair<string, string>> ProxyEnvironment(int port)
    {
        var url = ProxyUrl(port);
        return
        [
            new("HTTP_PROXY", url), new("HTTPS_PROXY", url), new("ALL_PROXY", url),
            new("http_proxy", url), new("https_proxy", url), new("all_proxy", url),
            new("NO_PROXY", ""), new("no_proxy", ""),
            // Node 24 and later use the proxy variables for fetch only when asked.
            new("NODE_USE_ENV_PROXY", "1"),
        ];
    }

    public static (ResolvedSandbox? Sandbox, ImmutableArray<Problem> Problems) Resolve(SandboxProfile profile, SandboxContext context)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(context);
        var problems = new List<Problem>();
        var home = Normalise(context.Home);
        var paths = ImmutableArray.CreateBuilder<SandboxPath>();
        for (var i = 0; i < profile.Paths.Length; i++)
        {
            var at = $"files.paths[{i.ToString(CultureInfo.InvariantCulture)}]";
            if (Expand(profile.Paths[i].Path, home, context, at, problems) is { } expanded)
            {
                paths.Add(new SandboxPath(expanded, profile.Paths[i].Access));
            }
        }

        var hidden = ImmutableArray.CreateBuilder<string>();
        foreach (var h in SandboxRules.AlwaysHidden.Concat(profile.Hidden).Concat(context.ExtraHidden))
        {
            if (Expand(h, home, context, "files.hidden", problems) is { } expanded && !hidden.Contains(expanded))
            {
                hidden.Add(expanded);
            }
        }

        if (problems.Count > 0)
        {
            return (null, [.. problems]);
        }

        var support = context.SupportPaths.Select(Normalise).Distinct(StringComparer.Ordinal).ToImmutableArray();
        return (new ResolvedSandbox(profile, home, paths.ToImmutable(), hidden.ToImmutable(), support,
            context.WorkingDirectory is null ? null : Normalise(context.WorkingDirectory)), []);
    }

    /// <summary>
    /// bubblewrap's options (everything before <c>--</c> and the command): the system read-only, a fresh <c>/dev</c>,
    /// <c>/proc</c>, <c>/tmp</c> and <c>/run</c>, the home directory an empty tmpfs with the declared paths bound back,
    /// the hidden paths covered, every namespace unshared (network too: the proxy is reached through the bridge on the
    /// sandbox's own loopback), no capabilities, a new session (no terminal injection), and the sandbox dying with the gateway.
    /// </summary>
    public static ImmutableArray<string> BwrapArgs(ResolvedSandbox sandbox, string? proxySocket)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        var args = new List<string>
        {
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--tmpfs", "/tmp",
            // Host sockets (a docker or D-Bus socket can be connected to through a read-only mount) are not reachable.
            "--tmpfs", "/run",
        };
        if (sandbox.Home.Length > 1 && !IsUnder("/tmp", sandbox.Home))
        {
            args.AddRange(["--tmpfs", sandbox.Home]);
        }

        // The server's own program and runtime, read-only, where the mounts above would hide them.
        foreach (var support in sandbox.SupportPaths.Where(p => IsUnder(p, sandbox.Home) || IsUnder(p, "/tmp") || IsUnder(p, "/run")))
        {
            args.AddRange(["--ro-bind-try", support, support]);
        }

        foreach (var path in sandbox.Paths)
        {
            args.AddRange([path.Access == PathAccess.ReadWrite ? "--bind-try" : "--ro-bind-try", path.Path, path.Path]);
        }

        foreach (var hidden in sandbox.Hidden)
        {
            // Under the home directory and outside every bound path it is gone already (the tmpfs is empty).
            var bound = sandbox.Paths.Any(p => IsUnder(hidden, p.Path)) || sandbox.SupportPaths.Any(p => IsUnder(hidden, p));
            if (IsUnder(hidden, sandbox.Home) && !bound)
            {
                continue;
            }

            args.AddRange(["--tmpfs", hidden]);
        }

        if (proxySocket is not null)
        {
            args.AddRange(["--ro-bind", proxySocket, ProxySocketPath]);
        }

        args.AddRange(["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--unshare-net"]);
        if (sandbox.Profile.Uid is { } uid)
        {
            var text = uid.ToString(CultureInfo.InvariantCulture);
            args.AddRange(["--unshare-user", "--uid", text, "--gid", text]);
        }

        args.AddRange(["--die-with-parent", "--new-session", "--cap-drop", "ALL"]);
        args.AddRange(["--setenv", "TMPDIR", "/tmp"]);
        args.AddRange(["--chdir", sandbox.WorkingDirectory is { } cwd && sandbox.IsVisible(cwd) ? cwd : "/tmp"]);
        return [.. args];
    }

    /// <summary>Hidden paths that need a probe to cover (files are covered by <c>/dev/null</c>, not a tmpfs): rewrites the <c>--tmpfs</c> of each file.</summary>
    public static ImmutableArray<string> CoverFiles(ImmutableArray<string> bwrapArgs, Func<string, PathKind> probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        var result = new List<string>(bwrapArgs.Length);
        for (var i = 0; i < bwrapArgs.Length; i++)
        {
            if (bwrapArgs[i] == "--tmpfs" && i + 1 < bwrapArgs.Length && bwrapArgs[i + 1] is var target &&
                target is not ("/tmp" or "/run") && !target.StartsWith("/dev", StringComparison.Ordinal))
            {
                switch (probe(target))
                {
                    case PathKind.File:
                        result.AddRange(["--ro-bind", "/dev/null", target]);
                        i++;
                        continue;
                    case PathKind.Missing:
                        // Nothing to hide; a mount point cannot be made on a read-only bind anyway.
                        i++;
                        continue;
                }
            }

            result.Add(bwrapArgs[i]);
        }

        return [.. result];
    }

    /// <summary>docker options that must not appear in an entry's runtime arguments when its sandbox is enforced: each would undo part of it.</summary>
    public static readonly ImmutableArray<string> DockerConflicts =
    [
        "--network", "--net", "-v", "--volume", "--mount", "--privileged", "--cap-add", "--security-opt", "--pid", "--ipc",
        "--userns", "--device", "--volumes-from", "--uts", "-u", "--user", "--read-only", "--tmpfs", "--add-host",
    ];

    /// <summary>
    /// The docker flags of a profile, inserted right after <c>run</c>: no network, a read-only root with a private
    /// <c>/tmp</c>, no capabilities, no new privileges, and the declared paths as bind mounts at the same place. Network
    /// modes that need the proxy are reported (a container on <c>--network none</c> cannot reach it; any other docker
    /// network would allow direct connections).
    /// </summary>
    public static (ImmutableArray<string> Args, ImmutableArray<Problem> Problems) DockerArgs(ResolvedSandbox sandbox, ImmutableArray<string> args)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        var problems = new List<Problem>();
        if (args.IsEmpty || args[0] != "run")
        {
            problems.Add(Problem.Error("command", "sandbox.docker", "a sandboxed OCI server must be started with docker run", "use the registry's launch plan (docker run -i --rm <image>)"));
            return ([], [.. problems]);
        }

        if (sandbox.Profile.NeedsProxy)
        {
            problems.Add(Problem.Error("network.mode", "sandbox.docker-network",
                $"network mode {SandboxProfile.NetworkName(sandbox.Profile.Network)} is not available for OCI servers yet: a container on --network none cannot reach the filtering proxy, and any other docker network allows direct connections",
                "use network mode none for this entry, or run the server as an npm or PyPI package where the proxy applies"));
        }

        var imageIndex = ImageIndex(args);
        for (var i = 1; i < imageIndex; i++)
        {
            var name = args[i].Split('=', 2)[0];
            if (DockerConflicts.Contains(name, StringComparer.Ordinal))
            {
                problems.Add(Problem.Error($"args[{i.ToString(CultureInfo.InvariantCulture)}]", "sandbox.docker-conflict",
                    $"the docker option {name} would undo part of the sandbox", "remove it from the entry's runtime arguments, or declare the path or network in the sandbox profile"));
            }
        }

        if (problems.Count > 0)
        {
            return ([], [.. problems]);
        }

        var flags = new List<string>
        {
            "--network", "none",
            "--read-only",
            "--tmpfs", "/tmp",
            "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges",
        };
        if (sandbox.Profile.Uid is { } uid)
        {
            var text = uid.ToString(CultureInfo.InvariantCulture);
            flags.AddRange(["--user", text + ":" + text]);
        }

        foreach (var path in sandbox.Paths)
        {
            flags.AddRange(["--mount", $"type=bind,src={path.Path},dst={path.Path}" + (path.Access == PathAccess.Read ? ",readonly" : "")]);
        }

        return ([args[0], .. flags, .. args[1..]], []);
    }

    /// <summary>The index of the image in <c>run [options] image …</c>: the first argument that is not an option or an option's value.</summary>
    private static int ImageIndex(ImmutableArray<string> args)
    {
        // Options of docker run that take a value as the next argument (the ones launch plans and entries use).
        string[] valued = ["-e", "--env", "--env-file", "-v", "--volume", "--mount", "--network", "--net", "-u", "--user", "-w", "--workdir",
            "--name", "--entrypoint", "-p", "--publish", "--cap-add", "--cap-drop", "--security-opt", "--tmpfs", "--platform", "--label", "-l",
            "--add-host", "--device", "--pid", "--ipc", "--userns", "--uts", "--volumes-from", "--memory", "-m", "--cpus", "--pull", "-h", "--hostname"];
        for (var i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith('-'))
            {
                return i;
            }

            if (!args[i].Contains('=', StringComparison.Ordinal) && valued.Contains(args[i], StringComparer.Ordinal))
            {
                i++;
            }
        }

        return args.Length;
    }

    /// <summary>
    /// A <c>sandbox-exec</c> (Seatbelt) profile for macOS: deny by default; the system readable, the home directory not
    /// (except the declared paths), hidden paths denied last (the last matching rule wins); writes only to the declared
    /// read-write paths and the private temporary directory; network only to the proxy's loopback port when one runs.
    /// </summary>
    public static string SeatbeltProfile(ResolvedSandbox sandbox, string temporaryDirectory, int? proxyPort)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        var b = new StringBuilder();
        b.Append("(version 1)\n");
        b.Append("(deny default)\n");
        b.Append("(allow process-exec)\n(allow process-fork)\n(allow signal (target same-sandbox))\n");
        b.Append("(allow sysctl-read)\n(allow mach-lookup)\n(allow ipc-posix-shm)\n");
        b.Append("(allow file-read* (subpath \"/\"))\n");
        b.Append("(deny file-read* (subpath ").Append(Quote(sandbox.Home)).Append("))\n");
        foreach (var support in sandbox.SupportPaths)
        {
            b.Append("(allow file-read* (subpath ").Append(Quote(support)).Append("))\n");
        }

        foreach (var path in sandbox.Paths)
        {
            b.Append("(allow file-read* (subpath ").Append(Quote(path.Path)).Append("))\n");
        }

        b.Append("(allow file-write* (subpath ").Append(Quote(temporaryDirectory)).Append("))\n");
        b.Append("(allow file-write* (literal \"/dev/null\") (literal \"/dev/stdout\") (literal \"/dev/stderr\"))\n");
        foreach (var path in sandbox.Paths.Where(p => p.Access == PathAccess.ReadWrite))
        {
            b.Append("(allow file-write* (subpath ").Append(Quote(path.Path)).Append("))\n");
        }

        foreach (var hidden in sandbox.Hidden)
        {
            b.Append("(deny file-read* file-write* (subpath ").Append(Quote(hidden)).Append("))\n");
        }

        if (proxyPort is { } port)
        {
            b.Append("(allow network-outbound (remote ip \"localhost:").Append(port.ToString(CultureInfo.InvariantCulture)).Append("\"))\n");
        }

        return b.ToString();
    }

    /// <summary>A Seatbelt string literal: backslashes and quotes escaped; control characters are refused by validation before.</summary>
    private static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    public static bool IsUnder(string path, string root)
    {
        if (root.Length == 0)
        {
            return false;
        }

        var r = root.TrimEnd('/');
        return path == r || path.StartsWith(r + "/", StringComparison.Ordinal) || r.Length == 0;
    }

    private static string Normalise(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        return full.Length > 1 ? full.TrimEnd('/') : full;
    }

    private static string? Expand(string path, string home, SandboxContext context, string at, List<Problem> problems)
    {
        string expanded;
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
        {
            expanded = home + path[1..];
        }
        else if (Variable().Match(path) is { Success: true } m)
        {
            var name = m.Groups[1].Value;
            var value = name == "workspaceFolder" ? context.WorkspaceFolder : context.Variable(name);
            if (string.IsNullOrEmpty(value))
            {
                problems.Add(Problem.Error(at, "sandbox.unresolved-variable",
                    $"the sandbox path \"{path}\" uses ${{{name}}}, which is not set",
                    name == "workspaceFolder"
                        ? "start the gateway in the workspace (hosts do), or pass --cwd"
                        : $"set {name} in the server's env (steward mcp add … --env {name}=/path)"));
                return null;
            }

            expanded = value + path[m.Length..];
        }
        else
        {
            expanded = path;
        }

        if (!expanded.StartsWith('/') || expanded.Any(char.IsControl) || expanded.Contains(',', StringComparison.Ordinal))
        {
            problems.Add(Problem.Error(at, "sandbox.path", $"the sandbox path \"{path}\" expands to something that is not an absolute path without ',' or control characters",
                "set the variable to an absolute path"));
            return null;
        }

        var normal = Normalise(expanded);
        if (normal == "/")
        {
            problems.Add(Problem.Error(at, "sandbox.path", $"the sandbox path \"{path}\" expands to /", "declare a narrower path"));
            return null;
        }

        return normal;
    }

    [GeneratedRegex(@"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex Variable();
}

/// <summary>
/// The sandbox part of a policy: the default profile (the account's, else the organisation's) and the profile of each
/// registry entry by name, which replaces the default for that entry.
/// </summary>
public sealed record SandboxPolicy(SandboxProfile? Default, ImmutableDictionary<string, SandboxProfile> Servers)
{
    public static SandboxPolicy None { get; } = new(null, ImmutableDictionary<string, SandboxProfile>.Empty);

    /// <summary>The profile for a registry entry; <see cref="SandboxProfile.Off"/> when neither it nor the default has one.</summary>
    public SandboxProfile For(string registryName) =>
        Servers.TryGetValue(registryName, out var own) ? own : Default ?? SandboxProfile.Off;
}

/// <summary>The <c>sandbox</c> section of a policy bundle: <c>{"default": profile | null, "servers": {"name": profile}}</c>.</summary>
public static class SandboxPolicyJson
{
    public static void Write(Utf8JsonWriter w, SandboxPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(policy);
        w.WriteStartObject();
        w.WritePropertyName("default");
        if (policy.Default is { } profile)
        {
            profile.WriteTo(w);
        }
        else
        {
            w.WriteNullValue();
        }

        w.WriteStartObject("servers");
        foreach (var (name, server) in policy.Servers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            w.WritePropertyName(name);
            server.WriteTo(w);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Reads the section; null with the problems when any profile in it is invalid.</summary>
    public static (SandboxPolicy? Policy, ImmutableArray<Problem> Problems) Parse(JsonElement section)
    {
        if (section.ValueKind == JsonValueKind.Null)
        {
            return (SandboxPolicy.None, []);
        }

        if (section.ValueKind != JsonValueKind.Object)
        {
            return (null, [Problem.Error("sandbox", SandboxRules.Codes.Invalid, "the sandbox section is not an object", "")]);
        }

        var problems = new List<Problem>();
        SandboxProfile? defaultProfile = null;
        if (section.TryGetProperty("default", out var d) && d.ValueKind != JsonValueKind.Null)
        {
            var (profile, found) = SandboxRules.Parse(d, "sandbox.default");
            problems.AddRange(found);
            defaultProfile = profile;
        }

        var servers = ImmutableDictionary.CreateBuilder<string, SandboxProfile>(StringComparer.Ordinal);
        if (section.TryGetProperty("servers", out var s))
        {
            if (s.ValueKind != JsonValueKind.Object)
            {
                problems.Add(Problem.Error("sandbox.servers", SandboxRules.Codes.Invalid, "expected an object of profiles by server name", ""));
            }
            else
            {
                foreach (var property in s.EnumerateObject())
                {
                    var (profile, found) = SandboxRules.Parse(property.Value, Json.JsonPath.Field("sandbox.servers", property.Name));
                    problems.AddRange(found);
                    if (profile is not null)
                    {
                        servers[property.Name] = profile;
                    }
                }
            }
        }

        return problems.Count > 0 ? (null, [.. problems]) : (new SandboxPolicy(defaultProfile, servers.ToImmutable()), []);
    }
}
