using Steward.Core.Registry;

namespace Steward.Core.Launch;

/// <summary>
/// The package runners Steward launches with, and how a package is named on their command line.
/// <list type="table">
/// <item><term>npm</term><description><c>npx -y &lt;runtime args&gt; &lt;identifier&gt;@&lt;version&gt; &lt;package args&gt;</c>.
/// npx takes its own options only before the package; everything after the package goes to the package. <c>-y</c>
/// comes first so that the install prompt never blocks a server whose stdin is the MCP stream.</description></item>
/// <item><term>pypi</term><description><c>uvx &lt;runtime args&gt; &lt;identifier&gt;==&lt;version&gt; &lt;package args&gt;</c>.</description></item>
/// <item><term>oci</term><description><c>docker run -i --rm &lt;runtime args&gt; -e NAME… &lt;image&gt; &lt;package args&gt;</c>: the image
/// is the identifier, with <c>:&lt;version&gt;</c> appended only when a version is given and the identifier has no tag
/// and no digest. Each environment variable is forwarded by name (<c>-e NAME</c>, never <c>-e NAME=value</c>), so its
/// value reaches the container from docker's own environment and never appears in an argument vector.</description></item>
/// <item><term>nuget</term><description><c>dnx &lt;runtime args&gt; &lt;identifier&gt;@&lt;version&gt; -- &lt;package args&gt;</c>, the form the
/// specification documents (<c>dnx Knapcode.SampleMcpServer@0.4.0-beta -- mcp start</c>); <c>--</c> only when there are
/// package arguments.</description></item>
/// <item><term>cargo, mcpb, others</term><description>No runner. cargo has no per-invocation runner (a crate is installed
/// once and its binary run by name, which says nothing about what runs); an mcpb bundle must be downloaded and its
/// <c>fileSha256</c> verified before it can run, which is not a launch plan's job. Planning such a package reports
/// <see cref="LaunchRules.NoRunner"/>.</description></item>
/// </list>
/// A package without <c>version</c> (the Kiro subset) names itself by its identifier exactly as written
/// (<c>@acme/x@1.2.3</c> stays as it is). <c>runtimeHint</c> replaces the program only when it names a runner of the
/// package's type (<c>npx</c> for npm, <c>uvx</c> for pypi, <c>docker</c> or <c>podman</c> for oci, <c>dnx</c> for
/// nuget); any other hint is ignored.
/// </summary>
public static class Runners
{
    public const string Npx = "npx";
    public const string Uvx = "uvx";
    public const string Docker = "docker";
    public const string Podman = "podman";
    public const string Dnx = "dnx";

    /// <summary>The program that runs packages of this registry type, or null when Steward has no runner for it.</summary>
    public static string? DefaultCommand(string registryType) => registryType switch
    {
        RegistryTypes.Npm => Npx,
        RegistryTypes.Pypi => Uvx,
        RegistryTypes.Oci => Docker,
        RegistryTypes.Nuget => Dnx,
        _ => null,
    };

    /// <summary>The program for this package: its <c>runtimeHint</c> when that is a runner of its type, else the default.</summary>
    public static string? Command(Package package)
    {
        ArgumentNullException.ThrowIfNull(package);
        var fallback = DefaultCommand(package.RegistryType);
        if (fallback is null)
        {
            return null;
        }

        return package.RuntimeHint is { } hint && IsRunnerFor(package.RegistryType, hint) ? hint : fallback;
    }

    /// <summary>True when <paramref name="command"/> is a program that runs packages of <paramref name="registryType"/>.</summary>
    public static bool IsRunnerFor(string registryType, string command) => registryType switch
    {
        RegistryTypes.Npm => command == Npx,
        RegistryTypes.Pypi => command == Uvx,
        RegistryTypes.Oci => command is Docker or Podman,
        RegistryTypes.Nuget => command == Dnx,
        _ => false,
    };

    /// <summary>The registry type a runner program runs, or null for any other program.</summary>
    public static string? RegistryTypeOf(string command) => command switch
    {
        Npx => RegistryTypes.Npm,
        Uvx => RegistryTypes.Pypi,
        Docker or Podman => RegistryTypes.Oci,
        Dnx => RegistryTypes.Nuget,
        _ => null,
    };

    /// <summary>How the runner names the package: <c>id@ver</c>, <c>id==ver</c>, <c>image:tag</c>, or the identifier as written.</summary>
    public static string PackageSpec(Package package)
    {
        ArgumentNullException.ThrowIfNull(package);
        var id = package.Identifier;
        if (string.IsNullOrEmpty(package.Version))
        {
            return id;
        }

        return package.RegistryType switch
        {
            RegistryTypes.Npm or RegistryTypes.Nuget => id + "@" + package.Version,
            RegistryTypes.Pypi => id + "==" + package.Version,
            RegistryTypes.Oci => HasTagOrDigest(id) ? id : id + ":" + package.Version,
            _ => id,
        };
    }

    /// <summary>True when an image reference carries a tag (<c>:tag</c> after the last <c>/</c>) or a digest (<c>@sha256:…</c>).</summary>
    public static bool HasTagOrDigest(string image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Contains('@', StringComparison.Ordinal))
        {
            return true;
        }

        var slash = image.LastIndexOf('/');
        return image.IndexOf(':', slash + 1) >= 0;
    }

    /// <summary>
    /// Splits a package spec as a runner reads it into a package name and a version (null when unpinned):
    /// <c>@scope/x@1.2.3</c> → (<c>@scope/x</c>, <c>1.2.3</c>); <c>x==1.0</c> → (<c>x</c>, <c>1.0</c>);
    /// <c>ghcr.io/o/i:1.0</c> → (<c>ghcr.io/o/i</c>, <c>1.0</c>); <c>i@sha256:…</c> → (<c>i</c>, <c>sha256:…</c>).
    /// </summary>
    public static (string Name, string? Version) SplitSpec(string registryType, string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        switch (registryType)
        {
            case RegistryTypes.Npm:
            case RegistryTypes.Nuget:
            {
                var at = spec.LastIndexOf('@');
                return at > 0 ? (spec[..at], spec[(at + 1)..]) : (spec, null);
            }

            case RegistryTypes.Pypi:
            {
                var eq = spec.IndexOf("==", StringComparison.Ordinal);
                return eq > 0 ? (spec[..eq], spec[(eq + 2)..]) : (spec, null);
            }

            case RegistryTypes.Oci:
            {
                var at = spec.IndexOf('@', StringComparison.Ordinal);
                if (at > 0)
                {
                    return (spec[..at], spec[(at + 1)..]);
                }

                var slash = spec.LastIndexOf('/');
                var colon = spec.IndexOf(':', slash + 1);
                return colon > 0 ? (spec[..colon], spec[(colon + 1)..]) : (spec, null);
            }

            default:
                return (spec, null);
        }
    }

    /// <summary>
    /// The name under which two specs denote the same package: NuGet ids compare case-insensitively, PyPI names are
    /// normalised as PEP 503 says (lower case, runs of <c>-</c>, <c>_</c>, <c>.</c> become one <c>-</c>); npm and image
    /// names compare exactly.
    /// </summary>
    public static string NormalizeName(string registryType, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        switch (registryType)
        {
            case RegistryTypes.Nuget:
                return name.ToLowerInvariant();
            case RegistryTypes.Pypi:
            {
                var builder = new System.Text.StringBuilder(name.Length);
                var separator = false;
                foreach (var c in name)
                {
                    if (c is '-' or '_' or '.')
                    {
                        separator = true;
                        continue;
                    }

                    if (separator && builder.Length > 0)
                    {
                        builder.Append('-');
                    }

                    separator = false;
                    builder.Append(char.ToLowerInvariant(c));
                }

                return builder.ToString();
            }

            default:
                return name;
        }
    }

    /// <summary>Whether two versions of the same package are the same version (NuGet versions ignore case).</summary>
    public static bool SameVersion(string registryType, string? a, string? b) =>
        registryType == RegistryTypes.Nuget ? string.Equals(a, b, StringComparison.OrdinalIgnoreCase) : string.Equals(a, b, StringComparison.Ordinal);
}
