using System.Collections.Immutable;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Net;
using Steward.Core.Registry;

namespace Steward.Core.Admission;

/// <summary>
/// Decides, for each configured server, whether it may run: built once from a registry (every version of every
/// server; deleted versions are left out, deprecated ones still count), with indexes by package and by URL so that an
/// evaluation is a few dictionary lookups and never a scan of the registry.
/// </summary>
/// <remarks>
/// A server is identified by what actually runs, never by its name alone:
/// <list type="bullet">
/// <item><description>Local: <c>command</c> and <c>args</c> as written (<c>${VAR}</c> references unexpanded; the user's
/// <c>env</c> ignored) must be an argument vector that some registry package produces (<see cref="ArgvPattern"/> says
/// exactly which). At the latest version → <see cref="AdmissionDecision.Allowed"/>. At an older registry version →
/// <see cref="AdmissionDecision.Relaunch"/> at the latest. The same package with the right arguments at a version the
/// registry never had → blocked <c>version_not_approved</c>; the same package with other arguments →
/// <c>arguments_mismatch</c>; another package under a registry server's name → <c>package_mismatch</c>.</description></item>
/// <item><description>Remote: the URL after <see cref="RemoteUrls.Canonicalize"/> must equal a registry remote's, or fit
/// its template (each <c>{variable}</c> filled with a value that <see cref="RemotePlanner.IsSafeUrlValue"/> accepts).
/// Plain http is refused (<c>remote_not_https</c>) unless the host is this machine. The user's headers are ignored.</description></item>
/// <item><description>The key under which the server is configured does not matter: a renamed server that runs what an
/// entry runs is that entry (allowed, the decision naming the registry's name). When several entries run the same thing,
/// the one whose name is the configured key wins, then the first in registry order.</description></item>
/// <item><description><c>"type": "registry"</c>: the key names the registry server (flat Kiro names and official
/// <c>namespace/name</c> names alike); it runs that server's latest version: its first package Steward has a runner for,
/// else its first remote, with the user's <c>env</c> and <c>headers</c> on top. The decision carries the plan.</description></item>
/// <item><description>A disabled server is blocked <c>disabled</c> before anything else.</description></item>
/// </list>
/// </remarks>
public sealed class AdmissionEvaluator
{
    private readonly Dictionary<string, Server> byName = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Command, string Package), List<Shape>> byPackage = [];
    private readonly Dictionary<string, List<RemoteCandidate>> byUrl = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<RemoteCandidate>> templatesByHost = new(StringComparer.Ordinal);
    private readonly List<RemoteCandidate> templatesAnyHost = [];
    private readonly HashSet<string> remoteHosts = new(StringComparer.Ordinal);

    /// <summary>All versions of one registry server, and its latest.</summary>
    private sealed class Server(string name, int order)
    {
        public string Name { get; } = name;
        public int Order { get; } = order;
        public List<RegistryEntry> Versions { get; } = [];
        public ServerDetail Latest { get; set; } = null!;
    }

    /// <param name="RelaunchPackage">The package of the latest version to relaunch with (the same package when it is still there).</param>
    private sealed record LocalCandidate(Server Server, ServerDetail Version, Package Package, ArgvPattern Pattern, Package? RelaunchPackage);

    /// <summary>Registry packages that accept the same argument vectors apart from the package version.</summary>
    private sealed record Shape(ArgvPattern Pattern, string Key, List<LocalCandidate> Candidates);

    private sealed record RemoteCandidate(Server Server, ServerDetail Version, RemoteTransport Remote, ImmutableArray<string> Literals, ImmutableArray<bool> HoleMayBeEmpty)
    {
        /// <summary>A hole takes a value the remote planner would substitute: URL-safe, and empty only for an optional variable without default.</summary>
        public bool Matches(string canonical) =>
            ArgvPattern.GlobMatches(Literals, canonical, (i, text) => (text.Length > 0 || HoleMayBeEmpty[i]) && (text.Length == 0 || RemotePlanner.IsSafeUrlValue(text)));
    }

    public AdmissionEvaluator(IEnumerable<RegistryEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var entry in entries)
        {
            if (entry.Official?.Status == ServerStatuses.Deleted)
            {
                continue;
            }

            if (!byName.TryGetValue(entry.Server.Name, out var server))
            {
                byName[entry.Server.Name] = server = new Server(entry.Server.Name, byName.Count);
            }

            server.Versions.Add(entry);
        }

        foreach (var server in byName.Values)
        {
            server.Latest = (server.Versions.FirstOrDefault(v => v.Official?.IsLatest == true)
                             ?? ServerVersions.PickLatest(server.Versions, v => v.Server.Version, v => v.Official?.PublishedAt ?? DateTimeOffset.MinValue)!)
                .Server;
            foreach (var version in server.Versions)
            {
                IndexPackages(server, version.Server);
                IndexRemotes(server, version.Server);
            }
        }
    }

    /// <summary>An evaluator for bare server.json documents (no publish times: versions order as <see cref="ServerVersions"/> says).</summary>
    public static AdmissionEvaluator FromServers(IEnumerable<ServerDetail> servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        return new AdmissionEvaluator(servers.Select(s => new RegistryEntry(s, "")));
    }

    /// <summary>The latest version of the registry server with this name, if there is one.</summary>
    public ServerDetail? Latest(string name) => byName.TryGetValue(name, out var server) ? server.Latest : null;

    public AdmissionDecision Evaluate(string configuredName, McpServerConfig config)
    {
        ArgumentNullException.ThrowIfNull(configuredName);
        ArgumentNullException.ThrowIfNull(config);
        if (config.IsDisabled)
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.Disabled, $"\"{configuredName}\" is disabled in the configuration");
        }

        if (config.IsRegistry)
        {
            return EvaluateRegistryEntry(configuredName, config);
        }

        if (config.Command is not null)
        {
            return EvaluateLocal(configuredName, config);
        }

        if (config.Url is not null)
        {
            return EvaluateRemote(configuredName, config.Url);
        }

        return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.InvalidConfig,
            $"\"{configuredName}\" has neither a command nor a URL, so nothing can be checked against the registry");
    }

    private void IndexPackages(Server server, ServerDetail version)
    {
        foreach (var package in version.Packages ?? [])
        {
            if (ArgvPattern.For(package) is not { } pattern)
            {
                continue;
            }

            var key = (pattern.Command, pattern.PackageName);
            if (!byPackage.TryGetValue(key, out var shapes))
            {
                byPackage[key] = shapes = [];
            }

            var shapeKey = pattern.Shape();
            var shape = shapes.Find(s => s.Key == shapeKey);
            if (shape is null)
            {
                shapes.Add(shape = new Shape(pattern, shapeKey, []));
            }

            var relaunch = ReferenceEquals(version, server.Latest) ? package : SamePackage(server.Latest, package);
            shape.Candidates.Add(new LocalCandidate(server, version, package, pattern, relaunch));
        }
    }

    private void IndexRemotes(Server server, ServerDetail version)
    {
        foreach (var remote in version.Remotes ?? [])
        {
            // The validator refuses a template whose variables could choose the scheme, or plain http with a host they
            // fill in; an evaluator given entries it never checked does not admit through one either (a configured
            // http://127.0.0.1/mcp never matches http://{host}/mcp). Loopback http written out passes, for the policy to decide.
            if (!RemotePlanner.IsRemoteType(remote.Type) ||
                UrlRules.JudgeTemplate(remote.Url, allowLoopbackHttp: true) != UrlRules.TemplateVerdict.Allowed ||
                RemoteTemplate(remote) is not { } template)
            {
                continue;
            }

            var (literals, host, mayBeEmpty) = template;
            var candidate = new RemoteCandidate(server, version, remote, literals, mayBeEmpty);
            if (literals.Length == 1)
            {
                Add(byUrl, literals[0], candidate);
            }
            else if (host is not null)
            {
                Add(templatesByHost, host, candidate);
            }
            else
            {
                templatesAnyHost.Add(candidate);
            }

            if (host is not null)
            {
                remoteHosts.Add(host);
            }
        }

        static void Add(Dictionary<string, List<RemoteCandidate>> index, string key, RemoteCandidate candidate)
        {
            if (!index.TryGetValue(key, out var list))
            {
                index[key] = list = [];
            }

            list.Add(candidate);
        }
    }

    private const string HoleMarker = "stewardhole";

    /// <summary>
    /// A remote URL template in canonical form, split into literal parts around its user-fillable variables, and its
    /// host when the host holds no variable. Variables are first replaced by lower-case markers that survive
    /// canonicalisation, then cut out again.
    /// </summary>
    private static (ImmutableArray<string> Literals, string? Host, ImmutableArray<bool> HoleMayBeEmpty)? RemoteTemplate(RemoteTransport remote)
    {
        var holes = 0;
        var mayBeEmpty = ImmutableArray.CreateBuilder<bool>();
        var marked = ValueTemplate.Substitute(remote.Url, name =>
        {
            if (remote.Variables is null || !remote.Variables.TryGetValue(name, out var variable))
            {
                return null;
            }

            if (variable.Value is not null)
            {
                return variable.Value;
            }

            mayBeEmpty.Add(!variable.Required && variable.Default is null);
            return HoleMarker + (holes++).ToString(System.Globalization.CultureInfo.InvariantCulture) + "x";
        });
        if (!Uri.TryCreate(marked, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return null;
        }

        var canonical = RemoteUrls.Canonicalize(uri);
        var host = RemoteUrls.Host(uri);
        var literals = ImmutableArray.CreateBuilder<string>();
        var position = 0;
        for (var i = 0; i < holes; i++)
        {
            var marker = HoleMarker + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "x";
            var at = canonical.IndexOf(marker, position, StringComparison.Ordinal);
            if (at < 0)
            {
                return null;
            }

            literals.Add(canonical[position..at]);
            position = at + marker.Length;
        }

        literals.Add(canonical[position..]);
        return (literals.ToImmutable(), host.Contains(HoleMarker, StringComparison.Ordinal) ? null : host, mayBeEmpty.ToImmutable());
    }

    private AdmissionDecision EvaluateLocal(string configuredName, McpServerConfig config)
    {
        var command = config.Command!;
        var args = config.Args ?? [];
        var registryType = Runners.RegistryTypeOf(command);
        LocalCandidate? exact = null;
        LocalCandidate? versionless = null;
        string? configuredVersion = null;
        var anyCandidate = false;
        if (registryType is not null)
        {
            for (var i = 0; i < args.Length; i++)
            {
                var (name, version) = Runners.SplitSpec(registryType, args[i]);
                if (!byPackage.TryGetValue((command, Runners.NormalizeName(registryType, name)), out var shapes))
                {
                    continue;
                }

                anyCandidate = true;
                var packageIndex = i;
                IReadOnlyList<string> candidateArgs = registryType == RegistryTypes.Oci ? WithoutForwardedEnvironment(args, ref packageIndex) : args;
                foreach (var shape in shapes)
                {
                    if (!shape.Pattern.Matches(candidateArgs, packageIndex))
                    {
                        continue;
                    }

                    foreach (var candidate in shape.Candidates)
                    {
                        if (Runners.SameVersion(registryType, candidate.Pattern.PackageVersion, version))
                        {
                            exact = Better(exact, candidate, configuredName);
                        }
                        else
                        {
                            var chosen = Better(versionless, candidate, configuredName);
                            if (!ReferenceEquals(chosen, versionless))
                            {
                                versionless = chosen;
                                configuredVersion = version;
                            }
                        }
                    }
                }
            }
        }

        if (exact is not null && FixedEnvironment(configuredName, exact.Server.Name, exact.Package, config) is { } fixedEnvironment)
        {
            return fixedEnvironment;
        }

        if (exact is not null)
        {
            return ReferenceEquals(exact.Version, exact.Server.Latest)
                ? new AdmissionDecision.Allowed(configuredName, exact.Version) { Package = exact.Package }
                : new AdmissionDecision.Relaunch(configuredName, exact.Server.Latest, exact.Version.Version)
                {
                    Package = exact.RelaunchPackage,
                };
        }

        if (versionless is not null)
        {
            var server = versionless.Server;
            var known = byPackage[(command, versionless.Pattern.PackageName)].SelectMany(shape => shape.Candidates)
                .FirstOrDefault(c => c.Server == server && Runners.SameVersion(c.Pattern.RegistryType, c.Pattern.PackageVersion, configuredVersion));
            if (known is not null)
            {
                return new AdmissionDecision.Relaunch(configuredName, server.Latest, known.Version.Version)
                {
                    Package = versionless.RelaunchPackage,
                };
            }

            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.VersionNotApproved,
                $"\"{configuredName}\" runs {versionless.Package.Identifier} at {(configuredVersion is null ? "an unpinned version" : "version " + configuredVersion)}, " +
                $"which the registry does not approve; \"{server.Name}\" approves {Describe(versionless.Pattern.PackageVersion)} (server version {server.Latest.Version} is the latest)");
        }

        if (anyCandidate)
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.ArgumentsMismatch,
                $"\"{configuredName}\" runs an approved package with arguments that differ from what the registry runs; " +
                "registry parameters are read-only: re-add the server from the registry");
        }

        return NameOnly(configuredName, local: true);
    }

    /// <summary>
    /// Registry parameters are read-only in the environment too: the configuration's <c>env</c> may not give a variable
    /// the package fixes (a <c>value</c>) another value. Variables the package leaves to the user, declares as inputs or
    /// does not name are the developer's.
    /// </summary>
    private static AdmissionDecision.Blocked? FixedEnvironment(string configuredName, string registryName, Package package, McpServerConfig config)
    {
        if (config.Env is not { Length: > 0 } env)
        {
            return null;
        }

        var normalized = OciCommand.Normalize(package).Package;
        foreach (var (name, value) in env)
        {
            var declared = normalized.EnvironmentVariables?.FirstOrDefault(v => v.Name == name);
            if (declared?.Value is not { } fixedValue)
            {
                continue;
            }

            var probe = LaunchPlanner.Plan(normalized, LaunchInputs.Empty.WithEnvironment(name, value));
            if (probe.Problems.Any(p => p.Rule == LaunchRules.FixedValue && p.Key == name) ||
                (declared.Variables is not { Count: > 0 } && fixedValue != value))
            {
                return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.EnvironmentFixed,
                    $"\"{configuredName}\" sets {name} in its env, but the registry's \"{registryName}\" fixes {name}; registry parameters are read-only: " +
                    $"remove {name} from \"env\" (or from --env), or ask your administrator to declare it as an input");
            }
        }

        return null;
    }

    private static string Describe(string? version) => version is null ? "it unpinned" : "version " + version;

    /// <summary>The arguments with docker's by-name environment forwarding (<c>-e NAME</c>, no <c>=</c>) removed before the image.</summary>
    private static List<string> WithoutForwardedEnvironment(ImmutableArray<string> args, ref int imageIndex)
    {
        var result = new List<string>(args.Length);
        var image = imageIndex;
        for (var i = 0; i < args.Length; i++)
        {
            if (i + 1 < image && args[i] == "-e" && EnvReferences.IsName(args[i + 1]))
            {
                i++;
                imageIndex -= 2;
                continue;
            }

            result.Add(args[i]);
        }

        return result;
    }

    private static LocalCandidate Better(LocalCandidate? current, LocalCandidate candidate, string configuredName)
    {
        if (current is null)
        {
            return candidate;
        }

        static int Rank(LocalCandidate c, string name) =>
            (ReferenceEquals(c.Version, c.Server.Latest) ? 0 : 2) + (c.Server.Name == name ? 0 : 1);

        var (a, b) = (Rank(current, configuredName), Rank(candidate, configuredName));
        return b < a || (b == a && candidate.Server.Order < current.Server.Order) ? candidate : current;
    }

    private static Package? SamePackage(ServerDetail latest, Package package) =>
        latest.Packages?.FirstOrDefault(p => p.RegistryType == package.RegistryType &&
            Runners.NormalizeName(p.RegistryType, Runners.SplitSpec(p.RegistryType, Runners.PackageSpec(p)).Name) ==
            Runners.NormalizeName(package.RegistryType, Runners.SplitSpec(package.RegistryType, Runners.PackageSpec(package)).Name))
        ?? latest.Packages?.FirstOrDefault(p => Runners.Command(p) is not null);

    private AdmissionDecision EvaluateRemote(string configuredName, string url)
    {
        if (EnvReferences.HasReferences(url))
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.UnresolvedReference,
                $"the URL of \"{configuredName}\" holds an environment reference; what it connects to would only be known after expansion");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.UrlInvalid, $"the URL of \"{configuredName}\" is not an absolute http or https URL");
        }

        // Loopback http is admitted here; whether the policy allows it is AdmissionPlanner.PlainHttpRefusal's to say.
        if (!UrlRules.Allows(uri, allowLoopbackHttp: true))
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.RemoteNotHttps,
                $"\"{configuredName}\" connects over plain http to {RemoteUrls.Host(uri)}; only https is allowed for hosts other than this machine");
        }

        var canonical = RemoteUrls.Canonicalize(uri);
        var host = RemoteUrls.Host(uri);
        RemoteCandidate? best = null;
        if (byUrl.TryGetValue(canonical, out var fixedCandidates))
        {
            foreach (var candidate in fixedCandidates)
            {
                best = Better(best, candidate, configuredName);
            }
        }

        if (templatesByHost.TryGetValue(host, out var hostTemplates))
        {
            foreach (var candidate in hostTemplates)
            {
                if (candidate.Matches(canonical))
                {
                    best = Better(best, candidate, configuredName);
                }
            }
        }

        foreach (var candidate in templatesAnyHost)
        {
            if (candidate.Matches(canonical))
            {
                best = Better(best, candidate, configuredName);
            }
        }

        if (best is not null)
        {
            if (ReferenceEquals(best.Version, best.Server.Latest))
            {
                return new AdmissionDecision.Allowed(configuredName, best.Version) { RemoteEntry = best.Remote };
            }

            return new AdmissionDecision.Relaunch(configuredName, best.Server.Latest, best.Version.Version)
            {
                RemoteEntry = best.Server.Latest.Remotes?.FirstOrDefault(r => RemotePlanner.IsRemoteType(r.Type)),
            };
        }

        if (remoteHosts.Contains(host))
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.UrlMismatch,
                $"the registry approves other URLs on {host}, not this one; the path and query must match exactly");
        }

        return NameOnly(configuredName, local: false);
    }

    private static RemoteCandidate Better(RemoteCandidate? current, RemoteCandidate candidate, string configuredName)
    {
        if (current is null)
        {
            return candidate;
        }

        static int Rank(RemoteCandidate c, string name) =>
            (ReferenceEquals(c.Version, c.Server.Latest) ? 0 : 2) + (c.Server.Name == name ? 0 : 1);

        var (a, b) = (Rank(current, configuredName), Rank(candidate, configuredName));
        return b < a || (b == a && candidate.Server.Order < current.Server.Order) ? candidate : current;
    }

    /// <summary>Nothing that runs matched: a registry name alone never admits, it only explains the refusal.</summary>
    private AdmissionDecision NameOnly(string configuredName, bool local)
    {
        if (!byName.TryGetValue(configuredName, out var server))
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.NotInRegistry,
                $"nothing in the registry runs what \"{configuredName}\" runs");
        }

        var latest = server.Latest;
        var hasRemotes = latest.Remotes is { Count: > 0 };
        if (!local && hasRemotes)
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.UrlMismatch,
                $"the registry's \"{server.Name}\" connects to another URL; re-add the server from the registry");
        }

        return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.PackageMismatch,
            $"the registry's \"{server.Name}\" runs {DescribeWhatRuns(latest)}, not what this configuration runs; a name alone does not admit a server");
    }

    private static string DescribeWhatRuns(ServerDetail server) =>
        server.Packages is { Count: > 0 } packages
            ? string.Join(" or ", packages.Select(p => $"the {p.RegistryType} package {p.Identifier}"))
            : server.Remotes is { Count: > 0 } ? "a remote server" : "nothing Steward can run";

    private AdmissionDecision EvaluateRegistryEntry(string configuredName, McpServerConfig config)
    {
        if (!byName.TryGetValue(configuredName, out var server))
        {
            return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.RegistryEntryUnknown,
                $"\"{configuredName}\" is marked \"type\": \"registry\", but the registry has no server of that name");
        }

        var latest = server.Latest;
        var inputs = LaunchInputs.Empty.WithEnvironment(config.Env ?? []).WithHeaders(config.Headers ?? []);
        var packages = latest.Packages ?? [];
        for (var i = 0; i < packages.Count; i++)
        {
            if (Runners.Command(packages[i]) is null)
            {
                continue;
            }

            var result = LaunchPlanner.Plan(packages[i], inputs, Json.JsonPath.Index("packages", i));
            if (result.Problems.FirstOrDefault(p => p.Rule == LaunchRules.FixedValue) is { } fixedValue)
            {
                return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.EnvironmentFixed,
                    $"\"{configuredName}\" sets {fixedValue.Key} in its env, but the registry's \"{server.Name}\" fixes {fixedValue.Key}; {fixedValue.Hint}");
            }

            return result.Plan is { } plan
                ? new AdmissionDecision.Allowed(configuredName, latest) { Package = packages[i], Plan = plan }
                : InputsMissing(configuredName, result.Problems);
        }

        var remotes = latest.Remotes ?? [];
        for (var i = 0; i < remotes.Count; i++)
        {
            if (!RemotePlanner.IsRemoteType(remotes[i].Type))
            {
                continue;
            }

            var result = RemotePlanner.Plan(remotes[i], inputs, Json.JsonPath.Index("remotes", i));
            if (result.Plan is not { } plan)
            {
                return InputsMissing(configuredName, result.Problems);
            }

            if (!Uri.TryCreate(plan.Url, UriKind.Absolute, out var uri) || !UrlRules.Allows(uri, allowLoopbackHttp: true))
            {
                return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.RemoteNotHttps,
                    $"the registry's \"{server.Name}\" connects over plain http to a host other than this machine");
            }

            return new AdmissionDecision.Allowed(configuredName, latest) { RemoteEntry = remotes[i], Remote = plan };
        }

        return new AdmissionDecision.Blocked(configuredName, AdmissionReasons.NoRunnableTransport,
            $"the registry's \"{server.Name}\" has no package Steward can run and no remote");
    }

    private static AdmissionDecision.Blocked InputsMissing(string configuredName, ImmutableArray<InputProblem> problems) =>
        new(configuredName, AdmissionReasons.InputsMissing,
            $"\"{configuredName}\" cannot run as the registry defines it: " + string.Join("; ", problems.Select(p => $"{p.Path}: {p.Message}")));
}
