using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Steward.Core.Json;
using Steward.Core.Validation;

namespace Steward.Core.Sandbox;

/// <summary>
/// <c>off</c>: run as today. <c>on</c>: fail closed, the server does not start when the sandbox cannot be made.
/// <c>prefer</c>: sandbox when possible, else start unsandboxed with a warning.
/// </summary>
public enum SandboxMode
{
    Off,
    On,
    Prefer,
}

/// <summary><c>none</c>: no network at all. <c>loopback</c>: this machine's loopback addresses, through the proxy. <c>allowlist</c>: the listed host[:port] patterns, through the proxy.</summary>
public enum NetworkMode
{
    None,
    Loopback,
    Allowlist,
}

public enum PathAccess
{
    Read,
    ReadWrite,
}

/// <summary>A path the server may see, unexpanded (<c>~</c>, <c>${workspaceFolder}</c>, <c>${NAME}</c> from the server's configured environment).</summary>
public sealed record SandboxPath(string Path, PathAccess Access);

/// <summary>
/// One allowlist pattern: a DNS name (<c>api.example.com</c>), a wildcard of subdomains (<c>*.example.com</c>), an IPv4
/// address or a bracketed IPv6 one; <see cref="Port"/> null means any port.
/// </summary>
public sealed record HostPattern(string Host, int? Port)
{
    public bool Matches(string host, int port)
    {
        if (Port is { } p && p != port)
        {
            return false;
        }

        host = host.Trim('[', ']').TrimEnd('.').ToLowerInvariant();
        var pattern = Host.Trim('[', ']');
        if (pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            return host.EndsWith(pattern[1..], StringComparison.Ordinal) && host.Length > pattern.Length - 1;
        }

        if (IPAddress.TryParse(pattern, out var a) && IPAddress.TryParse(host, out var b))
        {
            return a.Equals(b);
        }

        return string.Equals(pattern, host, StringComparison.Ordinal);
    }

    public override string ToString() => Port is { } p ? $"{Host}:{p.ToString(CultureInfo.InvariantCulture)}" : Host;
}

/// <summary>
/// What a local server may touch, set by the administrator per registry entry (or as an organisation or account
/// default) and carried in the signed policy bundle. The system is always read-only, the home directory hidden except
/// <see cref="Paths"/>, a private temporary directory writable, <see cref="SandboxRules.AlwaysHidden"/> and
/// <see cref="Hidden"/> never visible, no new privileges and a fresh PID namespace.
/// </summary>
public sealed record SandboxProfile
{
    public SandboxMode Mode { get; init; } = SandboxMode.Off;

    public ImmutableArray<SandboxPath> Paths { get; init; } = [];

    /// <summary>Paths hidden on top of <see cref="SandboxRules.AlwaysHidden"/>.</summary>
    public ImmutableArray<string> Hidden { get; init; } = [];

    public NetworkMode Network { get; init; } = NetworkMode.None;

    /// <summary>The allowlist (network mode <c>allowlist</c>); empty otherwise.</summary>
    public ImmutableArray<HostPattern> Allow { get; init; } = [];

    /// <summary>Run as this user id inside the sandbox (a user namespace on Linux, <c>--user</c> for containers); null: the developer's own.</summary>
    public int? Uid { get; init; }

    public static SandboxProfile Off { get; } = new();

    /// <summary>The patterns the proxy admits: the allowlist, or every port of the loopback addresses.</summary>
    public ImmutableArray<HostPattern> EffectiveAllow => Network switch
    {
        NetworkMode.Loopback => [new HostPattern("127.0.0.1", null), new HostPattern("localhost", null), new HostPattern("[::1]", null)],
        NetworkMode.Allowlist => Allow,
        _ => [],
    };

    /// <summary>True when the server needs the filtering proxy (loopback or allowlist).</summary>
    public bool NeedsProxy => Network != NetworkMode.None;

    public static string ModeName(SandboxMode mode) => mode switch
    {
        SandboxMode.On => "on",
        SandboxMode.Prefer => "prefer",
        _ => "off",
    };

    public static string NetworkName(NetworkMode mode) => mode switch
    {
        NetworkMode.Loopback => "loopback",
        NetworkMode.Allowlist => "allowlist",
        _ => "none",
    };

    /// <summary>One line for people: what the server may touch.</summary>
    public string Describe()
    {
        if (Mode == SandboxMode.Off)
        {
            return "off";
        }

        var files = Paths.IsEmpty
            ? "system read-only, home hidden, private /tmp"
            : "system read-only, home hidden except " + string.Join(", ", Paths.Select(p => p.Path + (p.Access == PathAccess.ReadWrite ? " (read-write)" : " (read-only)"))) + ", private /tmp";
        var network = Network switch
        {
            NetworkMode.Loopback => "loopback only (through the proxy)",
            NetworkMode.Allowlist => "only " + string.Join(", ", Allow) + " (through the proxy)",
            _ => "none",
        };
        return $"{ModeName(Mode)}; files: {files}; network: {network}; process: no new privileges, own PID namespace" +
               (Uid is { } uid ? $", uid {uid.ToString(CultureInfo.InvariantCulture)}" : "");
    }

    /// <summary>The profile as the API and the bundle write it (the same shape <see cref="SandboxRules.Parse"/> reads).</summary>
    public void WriteTo(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteString("mode", ModeName(Mode));
        w.WriteStartObject("files");
        w.WriteStartArray("paths");
        foreach (var path in Paths)
        {
            w.WriteStartObject();
            w.WriteString("path", path.Path);
            w.WriteString("access", path.Access == PathAccess.ReadWrite ? "read-write" : "read");
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("hidden");
        foreach (var hidden in Hidden)
        {
            w.WriteStringValue(hidden);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("network");
        w.WriteString("mode", NetworkName(Network));
        w.WriteStartArray("allow");
        foreach (var allow in Allow)
        {
            w.WriteStringValue(allow.ToString());
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("process");
        if (Uid is { } uid)
        {
            w.WriteNumber("uid", uid);
        }
        else
        {
            w.WriteNull("uid");
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            WriteTo(writer);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}

/// <summary>Reading and checking a sandbox profile: every problem with its JSON path, rule, message and fix.</summary>
public static partial class SandboxRules
{
    public const int MaxPaths = 64;
    public const int MaxAllow = 256;
    public const int MaxPathLength = 1024;

    /// <summary>
    /// Never visible to a sandboxed server, even inside a declared path: credentials (SSH, cloud CLIs, package
    /// registries, Git, Docker), browser profiles, and Steward's own configuration directory (added at launch).
    /// </summary>
    public static readonly ImmutableArray<string> AlwaysHidden =
    [
        "~/.ssh", "~/.aws", "~/.config/gcloud", "~/.azure", "~/.kube", "~/.gnupg", "~/.docker", "~/.netrc", "~/.npmrc",
        "~/.pypirc", "~/.git-credentials", "~/.config/gh", "~/.password-store", "~/.local/share/keyrings",
        "~/.mozilla", "~/.config/google-chrome", "~/.config/chromium", "~/.config/BraveSoftware", "~/.config/microsoft-edge",
        "~/Library/Keychains", "~/Library/Application Support/Google/Chrome", "~/Library/Application Support/Firefox",
        "~/Library/Safari", "~/.config/steward",
    ];

    public static class Codes
    {
        public const string Invalid = "sandbox.invalid";
        public const string Path = "sandbox.path";
        public const string Host = "sandbox.host";
        public const string Unknown = "sandbox.unknown-field";
    }

    private static readonly string[] TopFields = ["mode", "files", "network", "process"];
    private static readonly string[] FileFields = ["paths", "hidden"];
    private static readonly string[] PathFields = ["path", "access"];
    private static readonly string[] NetworkFields = ["mode", "allow"];
    private static readonly string[] ProcessFields = ["uid"];

    /// <summary>Reads a profile; null with every problem when it is not valid. Fields left out take their defaults (mode off, network none).</summary>
    public static (SandboxProfile? Profile, ImmutableArray<Problem> Problems) Parse(JsonElement root, string path = "")
    {
        var problems = new List<Problem>();
        if (root.ValueKind != JsonValueKind.Object)
        {
            problems.Add(Problem.Error(path, Codes.Invalid, "a sandbox profile must be a JSON object", """for example {"mode": "on", "network": {"mode": "none"}}"""));
            return (null, [.. problems]);
        }

        Unknown(root, path, TopFields, problems);
        var mode = SandboxMode.Off;
        if (root.TryGetProperty("mode", out var modeElement))
        {
            mode = Choice(modeElement, JsonPath.Field(path, "mode"), problems, SandboxMode.Off,
                ("off", SandboxMode.Off), ("on", SandboxMode.On), ("prefer", SandboxMode.Prefer));
        }

        var paths = ImmutableArray.CreateBuilder<SandboxPath>();
        var hidden = ImmutableArray.CreateBuilder<string>();
        if (Section(root, path, "files", FileFields, "expected an object with \"paths\" and \"hidden\"", problems, out var files, out var filesPath))
        {
            if (files.TryGetProperty("paths", out var list))
            {
                ReadList(list, JsonPath.Field(filesPath, "paths"), MaxPaths, $"expected an array of at most {MaxPaths} paths", problems, (item, at) =>
                {
                    if (ReadPath(item, at, problems) is { } p)
                    {
                        paths.Add(p);
                    }
                });
            }

            if (files.TryGetProperty("hidden", out var hide))
            {
                ReadList(hide, JsonPath.Field(filesPath, "hidden"), MaxPaths, $"expected an array of at most {MaxPaths} paths", problems, (item, at) =>
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        Bad(at, "expected a path string", item, problems, 0);
                    }
                    else if (PathProblem(item.GetString()!) is { } why)
                    {
                        problems.Add(Problem.Error(at, Codes.Path, why, PathHint));
                    }
                    else
                    {
                        hidden.Add(item.GetString()!);
                    }
                });
            }
        }

        var network = NetworkMode.None;
        var allow = ImmutableArray.CreateBuilder<HostPattern>();
        if (Section(root, path, "network", NetworkFields, "expected an object with \"mode\" and \"allow\"", problems, out var net, out var netPath))
        {
            if (net.TryGetProperty("mode", out var nm))
            {
                network = Choice(nm, JsonPath.Field(netPath, "mode"), problems, NetworkMode.None,
                    ("none", NetworkMode.None), ("loopback", NetworkMode.Loopback), ("allowlist", NetworkMode.Allowlist));
            }

            var allowPath = JsonPath.Field(netPath, "allow");
            if (net.TryGetProperty("allow", out var list))
            {
                ReadList(list, allowPath, MaxAllow, $"expected an array of at most {MaxAllow} host[:port] patterns", problems, (item, at) =>
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        Bad(at, "expected a host[:port] string", item, problems, 0);
                    }
                    else if (ParseHost(item.GetString()!, out var pattern) is { } why)
                    {
                        problems.Add(Problem.Error(at, Codes.Host, why,
                            "write a DNS name (api.example.com), *.example.com, an IPv4 address or [IPv6], optionally followed by :port (1-65535)"));
                    }
                    else
                    {
                        allow.Add(pattern!);
                    }
                });
            }

            if (network == NetworkMode.Allowlist && allow.Count == 0 && !problems.Any(p => p.Path.StartsWith(allowPath, StringComparison.Ordinal)))
            {
                problems.Add(Problem.Error(allowPath, Codes.Host, "network mode allowlist needs at least one host[:port] pattern",
                    "list the hosts the server may reach, or use network mode none"));
            }

            if (network != NetworkMode.Allowlist && allow.Count > 0)
            {
                problems.Add(Problem.Error(allowPath, Codes.Host, $"an allowlist is only used with network mode allowlist (it is {SandboxProfile.NetworkName(network)})",
                    "set network.mode to allowlist, or remove network.allow"));
            }
        }

        int? uid = null;
        if (Section(root, path, "process", ProcessFields, "expected an object with \"uid\"", problems, out var process, out var processPath))
        {
            if (process.TryGetProperty("uid", out var u) && u.ValueKind != JsonValueKind.Null)
            {
                if (u.ValueKind == JsonValueKind.Number && u.TryGetInt32(out var value) && value is >= 1 and <= 65534)
                {
                    uid = value;
                }
                else
                {
                    Bad(JsonPath.Field(processPath, "uid"), "expected a user id from 1 to 65534 (0, root, is never allowed), or null", u, problems, 0);
                }
            }
        }

        if (problems.Count > 0)
        {
            return (null, [.. problems]);
        }

        return (new SandboxProfile
        {
            Mode = mode,
            Paths = paths.ToImmutable(),
            Hidden = hidden.ToImmutable(),
            Network = network,
            Allow = allow.ToImmutable(),
            Uid = uid,
        }, []);
    }

    /// <summary>Reads a profile from JSON text; null with the problems when it is unreadable or invalid.</summary>
    public static (SandboxProfile? Profile, ImmutableArray<Problem> Problems) Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return Parse(document.RootElement.Clone());
        }
        catch (JsonException e)
        {
            return (null, [Problem.Error("", Codes.Invalid, "the sandbox profile is not JSON: " + e.Message, "send a JSON object")]);
        }
    }

    private const string PathHint = "write an absolute path (/data), one under the home directory (~/projects/x), or one starting with ${workspaceFolder} or ${NAME} (a variable of the server's environment); no '..', ',' or control characters";

    private static SandboxPath? ReadPath(JsonElement item, string at, List<Problem> problems)
    {
        string? text;
        var access = PathAccess.Read;
        if (item.ValueKind == JsonValueKind.String)
        {
            text = item.GetString();
        }
        else if (item.ValueKind == JsonValueKind.Object)
        {
            Unknown(item, at, PathFields, problems);
            text = item.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            if (text is null)
            {
                problems.Add(Problem.Error(JsonPath.Field(at, "path"), Codes.Path, "expected the path as a string", PathHint));
                return null;
            }

            if (item.TryGetProperty("access", out var a))
            {
                switch (a.ValueKind == JsonValueKind.String ? a.GetString() : null)
                {
                    case "read":
                        break;
                    case "read-write":
                        access = PathAccess.ReadWrite;
                        break;
                    default:
                        Bad(JsonPath.Field(at, "access"), "expected read or read-write", a, problems, 0);
                        return null;
                }
            }
        }
        else
        {
            Bad(at, "expected a path string or {\"path\": …, \"access\": \"read\" | \"read-write\"}", item, problems, 0);
            return null;
        }

        if (PathProblem(text!) is { } why)
        {
            problems.Add(Problem.Error(item.ValueKind == JsonValueKind.Object ? JsonPath.Field(at, "path") : at, Codes.Path, why, PathHint));
            return null;
        }

        return new SandboxPath(text!, access);
    }

    /// <summary>Why a declared path is not acceptable, or null.</summary>
    public static string? PathProblem(string path)
    {
        if (path.Length == 0 || path.Length > MaxPathLength)
        {
            return $"a path must have 1 to {MaxPathLength} characters";
        }

        if (path.Any(char.IsControl) || path.Contains(',', StringComparison.Ordinal))
        {
            return $"\"{Printable(path)}\" holds a control character or a ','";
        }

        if (!(path.StartsWith('/') || path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || VariableStart().IsMatch(path)))
        {
            return $"\"{path}\" is not absolute: it must start with /, ~/ or a ${{variable}}";
        }

        if (path.Split('/').Any(s => s is ".." or "."))
        {
            return $"\"{path}\" has a '.' or '..' segment";
        }

        if (path.TrimEnd('/').Length == 0)
        {
            return "\"/\" is the whole system, which is always visible read-only and never writable";
        }

        return null;
    }

    /// <summary>Parses <c>host[:port]</c>; the reason it is not a pattern, or null.</summary>
    public static string? ParseHost(string text, out HostPattern? pattern)
    {
        pattern = null;
        var host = text.Trim();
        int? port = null;
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || !IPAddress.TryParse(host[1..close], out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                return $"\"{Printable(text)}\" is not a bracketed IPv6 address";
            }

            var rest = host[(close + 1)..];
            host = "[" + v6 + "]";
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':') || !TryPort(rest[1..], out port))
                {
                    return $"\"{Printable(text)}\" has an invalid port";
                }
            }
        }
        else
        {
            var colon = host.LastIndexOf(':');
            if (colon >= 0)
            {
                if (!TryPort(host[(colon + 1)..], out port))
                {
                    return $"\"{Printable(text)}\" has an invalid port (IPv6 addresses are written in brackets)";
                }

                host = host[..colon];
            }

            host = host.ToLowerInvariant();
            if (host == "*" || host.Length == 0)
            {
                return $"\"{Printable(text)}\" allows every host; list the hosts instead";
            }

            var name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
            if (!IPAddress.TryParse(name, out _) && !HostName().IsMatch(name))
            {
                return $"\"{Printable(text)}\" is not a DNS name or an IPv4 address";
            }
        }

        pattern = new HostPattern(host, port);
        return null;
    }

    /// <summary>A port (1-65535) or <c>*</c> (any: null); false when neither.</summary>
    private static bool TryPort(string text, out int? port)
    {
        port = null;
        if (text == "*")
        {
            return true;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535)
        {
            port = p;
            return true;
        }

        return false;
    }

    private static string Printable(string text) => new([.. text.Select(c => char.IsControl(c) ? '?' : c)]);

    private static void Unknown(JsonElement obj, string path, string[] known, List<Problem> problems)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                problems.Add(Problem.Error(JsonPath.Field(path, property.Name), Codes.Unknown, $"unknown field \"{property.Name}\"",
                    "known fields: " + string.Join(", ", known)));
            }
        }
    }

    /// <summary>
    /// The value of the choice a string names (<c>mode</c>, <c>network.mode</c>); for any other string or value, a problem
    /// listing the names, and <paramref name="fallback"/>.
    /// </summary>
    private static T Choice<T>(JsonElement value, string at, List<Problem> problems, T fallback, params (string Name, T Value)[] choices)
    {
        if (value.ValueKind == JsonValueKind.String && value.GetString() is { } text)
        {
            foreach (var (name, choice) in choices)
            {
                if (string.Equals(text, name, StringComparison.Ordinal))
                {
                    return choice;
                }
            }
        }

        return Bad(at, "expected one of " + string.Join(", ", choices.Select(c => c.Name)), value, problems, fallback);
    }

    /// <summary>
    /// An optional object of the profile (<c>files</c>, <c>network</c>, <c>process</c>): true, with it and its path, when
    /// it is there and is an object (each unknown field in it is a problem); a problem when it is something else.
    /// </summary>
    private static bool Section(JsonElement root, string path, string name, string[] known, string expected, List<Problem> problems, out JsonElement section, out string at)
    {
        at = JsonPath.Field(path, name);
        if (!root.TryGetProperty(name, out section))
        {
            return false;
        }

        if (section.ValueKind != JsonValueKind.Object)
        {
            Bad(at, expected, section, problems, 0);
            return false;
        }

        Unknown(section, at, known, problems);
        return true;
    }

    /// <summary>
    /// A bounded list (<c>files.paths</c>, <c>files.hidden</c>, <c>network.allow</c>): an array of at most
    /// <paramref name="max"/> items, each given to <paramref name="read"/> with its own path; anything else is one problem
    /// at <paramref name="at"/>, and no item is read.
    /// </summary>
    private static void ReadList(JsonElement list, string at, int max, string expected, List<Problem> problems, Action<JsonElement, string> read)
    {
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() > max)
        {
            Bad(at, expected, list, problems, 0);
            return;
        }

        var i = 0;
        foreach (var item in list.EnumerateArray())
        {
            read(item, JsonPath.Index(at, i++));
        }
    }

    private static T Bad<T>(string path, string message, JsonElement value, List<Problem> problems, T fallback)
    {
        var raw = value.GetRawText();
        problems.Add(Problem.Error(path, Codes.Invalid, message + $" (got {(raw.Length > 80 ? raw[..80] + "…" : raw)})", "fix the value and send the profile again"));
        return fallback;
    }

    [GeneratedRegex(@"^\$\{[A-Za-z_][A-Za-z0-9_]*\}(/|$)")]
    private static partial Regex VariableStart();

    [GeneratedRegex(@"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")]
    private static partial Regex HostName();
}
