using System.Collections.Immutable;
using Steward.Agent.Policy;
using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Agent.Servers;

/// <summary>What the developer asked <c>steward mcp add</c> for.</summary>
/// <param name="Inputs">Values for declared inputs, by key (a secret one is stored in the secrets file, never in mcp.json).</param>
/// <param name="SecretReferences">Declared inputs given as a <c>${VAR}</c> reference: key to variable name.</param>
/// <param name="Environment">The developer's own environment variables (local servers).</param>
/// <param name="Headers">The developer's own HTTP headers (remote servers).</param>
public sealed record AddRequest(
    string Name,
    ConfigScope Scope,
    IReadOnlyList<KeyValuePair<string, string>> Inputs,
    IReadOnlyList<KeyValuePair<string, string>> SecretReferences,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    long? Timeout = null,
    bool Force = false);

/// <summary>
/// Steward's configured servers: adding approved servers, listing every configured server with its admission decision,
/// removing, enabling and disabling, importing from other hosts. Decisions come from <see cref="AdmissionEvaluator"/>
/// against the policy in force; files are written atomically, 0600, other entries kept as they were.
/// </summary>
public sealed class ServerManager
{
    private readonly StewardPaths paths;
    private readonly string workingDirectory;
    private readonly PolicyState policy;
    private readonly LocalFacts facts;
    private AdmissionPlanner? planner;

    /// <param name="facts">What this machine has (runners on PATH); detected when not given.</param>
    public ServerManager(StewardPaths paths, string workingDirectory, PolicyState policy, LocalFacts? facts = null)
    {
        this.facts = facts ?? LocalRunners.Detect();
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(workingDirectory);
        ArgumentNullException.ThrowIfNull(policy);
        this.paths = paths;
        this.workingDirectory = workingDirectory;
        this.policy = policy;
    }

    /// <summary>The manager over the policy in force now: the verified cache, read without asking the network.</summary>
    public static ServerManager OverCachedPolicy(StewardPaths paths, string workingDirectory, TimeProvider time, Func<string, string?> environment)
    {
        using var sync = new Sync.PolicySync(paths, time, environment: environment);
        return new ServerManager(paths, workingDirectory, sync.Current);
    }

    public PolicyState Policy => policy;

    private PolicySnapshot? Snapshot => policy is PolicyState.Active active ? active.Snapshot : null;

    /// <summary>Core's one admission answer, against the policy in force and this machine's facts.</summary>
    private AdmissionPlanner? Planner => Snapshot is { } snapshot ? planner ??= new AdmissionPlanner(snapshot.Admission, facts) : null;

    private AdmissionEvaluator? Evaluator => Planner?.Evaluator;

    /// <summary>The approved servers at their latest version, in registry order (what the picker offers).</summary>
    public IReadOnlyList<ApprovedServer> Approved()
    {
        if (Snapshot is not { } snapshot)
        {
            return [];
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<ApprovedServer>();
        foreach (var entry in snapshot.Registry)
        {
            if (entry.Official?.Status == ServerStatuses.Deleted || !seen.Add(entry.Server.Name) || Evaluator!.Latest(entry.Server.Name) is not { } latest)
            {
                continue;
            }

            result.Add(new ApprovedServer(latest.Name, latest.Title, latest.Description, latest.Version, AddTarget.For(latest)?.IsRemote ?? false));
        }

        return result;
    }

    /// <summary>What adding <paramref name="name"/> would run and ask for, or why it cannot be added.</summary>
    public (AddTarget? Target, string? Error) Resolve(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (policy is PolicyState.Disabled disabled)
        {
            return (null, $"cannot add \"{name}\": {disabled.Reason}; {disabled.WhatToDo}");
        }

        if (!Snapshot!.McpEnabled)
        {
            return (null, $"cannot add \"{name}\": {Snapshot.McpOffReason}");
        }

        if (Evaluator!.Latest(name) is not { } server)
        {
            if (WithdrawnEntries.ForName(Snapshot!.Withdrawn, name) is { } withdrawn)
            {
                return (null, $"cannot add \"{name}\": {withdrawn}");
            }

            return (null, $"\"{name}\" is not an approved server in the registry from {Snapshot.Source}; only approved servers can be added (see `steward mcp add` without a name for the list)");
        }

        return AddTarget.For(server) is { } target
            ? (target, null)
            : (null, $"\"{name}\" has no package Steward can run and no remote; ask the administrator to publish it as an npm, PyPI, OCI or NuGet package, or as a remote");
    }

    /// <summary>The required inputs that <paramref name="given"/> does not provide (keys as <see cref="AddRequest.Inputs"/> takes them).</summary>
    public static IReadOnlyList<MissingInput> MissingInputs(AddTarget target, IEnumerable<string> given)
    {
        ArgumentNullException.ThrowIfNull(target);
        var keys = given.ToHashSet(StringComparer.Ordinal);
        var inputs = LaunchInputs.Empty;
        foreach (var input in target.Inputs.Where(i => keys.Contains(i.Key)))
        {
            inputs = WithInput(inputs, input, "x");
        }

        var problems = Plan(target, inputs);
        return problems.Where(p => p.Rule == LaunchRules.MissingInput && p.Key is not null)
            .Select(p => target.Inputs.FirstOrDefault(i => i.Kind == p.Kind && i.Key == p.Key) is { } declared
                ? new MissingInput(declared.Key, declared.KindName, declared.Secret, declared.Description)
                : new MissingInput(p.Key!, p.Kind.ToString().ToLowerInvariant(), false, null))
            .DistinctBy(m => m.Key)
            .ToList();
    }

    public AddResult Add(AddRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (target, error) = Resolve(request.Name);
        if (target is null)
        {
            return new AddResult(error, []);
        }

        foreach (var (key, _) in request.Inputs.Concat(request.SecretReferences))
        {
            if (target.Find(key) is null)
            {
                var known = target.Inputs.Count == 0 ? "it takes no inputs" : "its inputs are: " + string.Join(", ", target.Inputs.Select(i => i.Key));
                return new AddResult($"--input {key}: \"{request.Name}\" has no input named \"{key}\"; {known}", []);
            }
        }

        foreach (var (key, variable) in request.SecretReferences)
        {
            if (!EnvReferences.IsName(variable))
            {
                return new AddResult($"--secret-env {key}={variable}: \"{variable}\" is not an environment variable name (letters, digits and _, not starting with a digit)", []);
            }
        }

        if (target.IsRemote && request.Environment.Count > 0)
        {
            return new AddResult($"--env: \"{request.Name}\" is a remote server; give HTTP headers with --header instead", []);
        }

        if (!target.IsRemote && target.Package!.Transport.Type == TransportTypes.Stdio && request.Headers.Count > 0)
        {
            return new AddResult($"--header: \"{request.Name}\" is a local server; give environment variables with --env instead", []);
        }

        var path = McpConfigFiles.PathFor(paths, request.Scope, workingDirectory);
        var (file, loadError) = McpConfigFiles.Load(request.Scope, path);
        if (file is null)
        {
            return new AddResult(loadError, []);
        }

        var existing = file.Config.Find(request.Name);
        if (existing is not null && !request.Force)
        {
            return new AddResult($"\"{request.Name}\" is already configured in {path}; add --force to replace it, or `steward mcp remove {request.Name}` first", []);
        }

        // Every value, with secrets replaced by ${VAR} references; the secret values themselves go to the secrets file.
        var secrets = new List<KeyValuePair<string, string>>();
        var inputs = LaunchInputs.Empty;
        var anyArgumentOrVariable = false;
        foreach (var (key, value) in request.Inputs)
        {
            var declared = target.Find(key)!;
            var written = value;
            if (declared.Secret)
            {
                var name = SecretStore.NameFor(request.Name, declared.Key);
                secrets.Add(new(name, value));
                written = "${" + name + "}";
            }

            inputs = WithInput(inputs, declared, written);
            anyArgumentOrVariable |= declared.Kind is InputKind.Argument or InputKind.Variable;
        }

        foreach (var (key, variable) in request.SecretReferences)
        {
            var declared = target.Find(key)!;
            inputs = WithInput(inputs, declared, "${" + variable + "}");
            anyArgumentOrVariable |= declared.Kind is InputKind.Argument or InputKind.Variable;
        }

        var problems = Plan(target, target.IsRemote ? inputs.WithHeaders(request.Headers) : inputs.WithEnvironment(request.Environment));
        if (problems.FirstOrDefault(p => p.Rule == LaunchRules.FixedValue) is { } fixedValue)
        {
            return new AddResult($"{(target.IsRemote ? "--header" : "--env")} {fixedValue.Key}: {fixedValue.Message} — {fixedValue.Hint}", []);
        }

        var missing = MissingInputs(target, request.Inputs.Concat(request.SecretReferences).Select(p => p.Key));
        if (missing.Count > 0)
        {
            return new AddResult(
                $"\"{request.Name}\" needs {missing.Count} more input{(missing.Count == 1 ? "" : "s")}: " +
                string.Join(", ", missing.Select(m => m.Key + (m.Secret ? " (secret)" : ""))) +
                "; give each with --input KEY=VALUE, or a secret with --secret-env KEY=VARIABLE", missing);
        }

        if (problems.Length > 0)
        {
            return new AddResult($"\"{request.Name}\": {problems[0].Path}: {problems[0].Message} — {problems[0].Hint}", []);
        }

        var config = anyArgumentOrVariable
            ? ConcreteEntry(target, inputs, request)
            : RegistryEntry(inputs, request);
        var decision = Planner!.Decide(request.Name, config);
        if (decision.Refusal is { } refusal)
        {
            return new AddResult($"\"{request.Name}\" would not be admitted as configured: {refusal.Message} [{refusal.ReasonCode}]", []);
        }

        if (secrets.Count > 0)
        {
            var store = SecretStore.Load(paths);
            foreach (var (name, value) in secrets)
            {
                store.Set(name, value);
            }

            store.Save();
        }

        McpConfigFiles.Save(path, file.Config.With(request.Name, existing is null ? config : Preserve(existing, config)));
        var scope = McpConfigFiles.ScopeName(request.Scope);
        var status = StatusOf(request.Name, config, scope, path, decision);
        return new AddResult(null, [], request.Name, path, scope, config.IsRegistry ? "registry" : config.IsRemote ? "remote" : "local",
            secrets.Select(s => s.Key).ToList(), status, existing is not null);
    }

    /// <summary>Every configured server (user and workspace files merged, Kiro's precedence) with its decision.</summary>
    public (StatusReport? Report, string? Error) Status()
    {
        var (files, error) = LoadAll();
        if (files is null)
        {
            return (null, error);
        }

        var merged = McpConfigMerge.Merge(files.Select(f => new ScopedConfig(f.Scope, f.Path, f.Config)));
        var servers = merged.Servers.Select(s => StatusOf(s.Name, s.Config, McpConfigFiles.ScopeName(s.Origin.Scope), s.Origin.Path, null)).ToList();
        // The aliases the aggregated gateway gives the servers it runs (the same set, so the same aliases).
        var aliases = ServerAliases.For(servers.Where(s => s.Enabled && s.Decision != "blocked").Select(s => s.Name));
        servers = [.. servers.Select(s => aliases.TryGetValue(s.Name, out var alias) ? s with { Alias = alias } : s)];
        return (new StatusReport(PolicyStatus.Of(policy, Snapshot is null ? null : Approved().Count), servers), null);
    }

    public ChangeResult Remove(string name, ConfigScope? scope)
    {
        var (file, error) = FileDefining(name, scope);
        if (file is null)
        {
            return new ChangeResult(error);
        }

        McpConfigFiles.Save(file.Path, file.Config.Without(name));
        var store = SecretStore.Load(paths);
        if (store.RemoveWithPrefix(SecretStore.Prefix(name)))
        {
            store.Save();
        }

        return new ChangeResult(null, name, file.Path, $"removed \"{name}\" from {file.Path}");
    }

    /// <summary>Enables or disables a server where it is defined. Enabling a server the policy does not admit is refused with why.</summary>
    public ChangeResult SetEnabled(string name, bool enabled, ConfigScope? scope)
    {
        var (file, error) = FileDefining(name, scope);
        if (file is null)
        {
            return new ChangeResult(error);
        }

        var config = file.Config.Find(name)!;
        var updated = enabled
            ? config with { Disabled = config.FieldOrder.Contains("disabled") ? false : null }
            : config with { Disabled = true };
        var scopeName = McpConfigFiles.ScopeName(file.Scope);
        var status = StatusOf(name, updated, scopeName, file.Path, null);
        if (enabled && status.Decision == "blocked")
        {
            return new ChangeResult($"cannot enable \"{name}\": {status.Message} [{status.Reason}]", name, file.Path, null, status);
        }

        if (config.IsDisabled == !enabled)
        {
            return new ChangeResult(null, name, file.Path, $"\"{name}\" is already {(enabled ? "enabled" : "disabled")} in {file.Path}", status);
        }

        McpConfigFiles.Save(file.Path, file.Config.With(name, updated));
        return new ChangeResult(null, name, file.Path, $"{(enabled ? "enabled" : "disabled")} \"{name}\" in {file.Path}", status);
    }

    /// <summary>
    /// Brings servers in from another host's files. Each is evaluated: an admitted one is imported enabled, any other
    /// imported disabled (the reason shown); a name already configured in the target file is skipped. Literal env and
    /// header values move to the secrets file (a token cannot be told from a log level), referenced as <c>${VAR}</c>.
    /// </summary>
    public ImportReport Import(string host, IReadOnlyList<string> filesRead, IReadOnlyList<HostServer> servers, IReadOnlyList<string> warnings, ConfigScope scope)
    {
        ArgumentNullException.ThrowIfNull(servers);
        var path = McpConfigFiles.PathFor(paths, scope, workingDirectory);
        var (file, error) = McpConfigFiles.Load(scope, path);
        if (file is null)
        {
            return new ImportReport(error, host, filesRead, path, [], warnings);
        }

        var config = file.Config;
        var store = SecretStore.Load(paths);
        var reports = new List<ImportedServerReport>();
        var scopeName = McpConfigFiles.ScopeName(scope);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var server in servers)
        {
            if (config.Find(server.Name) is not null || !seen.Add(server.Name))
            {
                reports.Add(new ImportedServerReport(server.Name, server.From, "skipped", "-", null,
                    $"\"{server.Name}\" is already configured in {path}; remove it first to import it again", []));
                continue;
            }

            var stored = new List<string>();
            var entry = server.Config with
            {
                Env = MoveToSecrets(server.Name, server.Config.Env, store, stored),
                Headers = MoveToSecrets(server.Name, server.Config.Headers, store, stored),
            };
            var status = StatusOf(server.Name, entry with { Disabled = null }, scopeName, path, null);
            var admitted = status.Decision != "blocked";
            if (!admitted)
            {
                entry = entry with { Disabled = true };
            }
            else if (entry.Disabled == true)
            {
                status = StatusOf(server.Name, entry, scopeName, path, null);
            }

            config = config.With(server.Name, entry);
            reports.Add(new ImportedServerReport(server.Name, server.From, admitted ? "imported" : "imported-disabled", status.Decision, status.Reason,
                admitted ? status.Message : $"imported disabled: {status.Message}", stored));
        }

        if (reports.Any(r => r.Outcome != "skipped"))
        {
            if (reports.Any(r => r.SecretsStored.Count > 0))
            {
                store.Save();
            }

            McpConfigFiles.Save(path, config);
        }

        return new ImportReport(null, host, filesRead, path, reports, warnings);
    }

    private static ImmutableArray<KeyValuePair<string, string>>? MoveToSecrets(
        string server, ImmutableArray<KeyValuePair<string, string>>? values, SecretStore store, List<string> stored)
    {
        if (values is not { } list)
        {
            return null;
        }

        var builder = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>(list.Length);
        foreach (var (key, value) in list)
        {
            if (value.Length == 0 || EnvReferences.HasReferences(value))
            {
                builder.Add(new(key, value));
                continue;
            }

            var name = SecretStore.NameFor(server, key);
            store.Set(name, value);
            stored.Add(name);
            builder.Add(new(key, "${" + name + "}"));
        }

        return builder.MoveToImmutable();
    }

    private (List<ConfigFile>? Files, string? Error) LoadAll()
    {
        var files = new List<ConfigFile>();
        var (user, userError) = McpConfigFiles.Load(ConfigScope.User, paths.UserMcpConfig);
        if (user is null)
        {
            return (null, userError);
        }

        files.Add(user);
        if (StewardPaths.FindWorkspaceMcpConfig(workingDirectory) is { } workspacePath)
        {
            var (workspace, workspaceError) = McpConfigFiles.Load(ConfigScope.Workspace, workspacePath);
            if (workspace is null)
            {
                return (null, workspaceError);
            }

            files.Add(workspace);
        }

        return (files, null);
    }

    /// <summary>The file whose entry decides <paramref name="name"/> (the highest scope), or the one of <paramref name="scope"/>.</summary>
    private (ConfigFile? File, string? Error) FileDefining(string name, ConfigScope? scope)
    {
        var (files, error) = LoadAll();
        if (files is null)
        {
            return (null, error);
        }

        var candidates = files.Where(f => f.Config.Find(name) is not null && (scope is null || f.Scope == scope)).ToList();
        if (candidates.Count == 0)
        {
            var names = files.SelectMany(f => f.Config.Servers.Select(s => s.Name)).Distinct(StringComparer.Ordinal).ToList();
            var where = scope is { } s ? $" in the {McpConfigFiles.ScopeName(s)} configuration" : "";
            return (null, $"\"{name}\" is not configured{where}; " +
                          (names.Count == 0 ? "no server is configured (add one with `steward mcp add`)" : "configured: " + string.Join(", ", names)));
        }

        return (candidates[^1], null);
    }

    private ServerStatus StatusOf(string name, McpServerConfig config, string scope, string file, AdmissionAnswer? known)
    {
        var kind = config.IsRegistry ? "registry" : config.IsRemote ? "remote" : "local";
        if (policy is PolicyState.Disabled disabled)
        {
            return new ServerStatus(name, scope, file, kind, !config.IsDisabled, "blocked", "mcp_disabled", $"{disabled.Reason}; {disabled.WhatToDo}", null, null);
        }

        if (!Snapshot!.McpEnabled)
        {
            return new ServerStatus(name, scope, file, kind, !config.IsDisabled, "blocked", "mcp_disabled", Snapshot.McpOffReason, null, null);
        }

        var answer = known ?? Planner!.Decide(name, config);
        if (answer.Decision is AdmissionDecision.Blocked { ReasonCode: AdmissionReasons.Disabled })
        {
            var wouldBe = Describe(Planner!.Decide(name, config with { Disabled = null }));
            var message = wouldBe.Decision == "blocked"
                ? $"disabled; and not admitted if enabled: {wouldBe.Message} [{wouldBe.Reason}]"
                : $"disabled; admitted if enabled ({wouldBe.Message})";
            return new ServerStatus(name, scope, file, kind, false, "blocked", AdmissionReasons.Disabled, message, wouldBe.RegistryName, wouldBe.Version);
        }

        var described = Describe(answer);
        return new ServerStatus(name, scope, file, kind, true, described.Decision, described.Reason, described.Message, described.RegistryName, described.Version)
        {
            Sandbox = described.Decision != "blocked" && answer.Run?.Local is { } local
                ? Sandbox.SandboxLauncher.Availability(answer.Run.Sandbox, local.Command)
                : null,
        };
    }

    /// <summary>The answer as list and status show it: the planner's refusal when there is one, else admission's decision.</summary>
    private static (string Decision, string? Reason, string Message, string? RegistryName, string? Version) Describe(AdmissionAnswer answer) => answer switch
    {
        { Refusal: { } refusal } => ("blocked", refusal.ReasonCode, refusal.Message, null, null),
        { Decision: AdmissionDecision.Allowed allowed } => ("allowed", null,
            allowed.Renamed
                ? $"runs the approved \"{allowed.RegistryName}\" {allowed.Version} (configured under another name)"
                : $"runs the approved \"{allowed.RegistryName}\" {allowed.Version}",
            allowed.RegistryName, allowed.Version),
        { Decision: AdmissionDecision.Relaunch relaunch } => ("relaunch", null,
            $"runs \"{relaunch.RegistryName}\" {relaunch.FromVersion}; the registry's latest is {relaunch.Version}, which is what the gateway runs",
            relaunch.RegistryName, relaunch.Version),
        _ => throw new ArgumentOutOfRangeException(nameof(answer)),
    };

    private static ImmutableArray<InputProblem> Plan(AddTarget target, LaunchInputs inputs) =>
        target.Package is { } package ? LaunchPlanner.Plan(package, inputs).Problems : RemotePlanner.Plan(target.Remote!, inputs).Problems;

    private static LaunchInputs WithInput(LaunchInputs inputs, DeclaredInput input, string value) => input.Kind switch
    {
        InputKind.Argument => inputs.WithArgument(input.Key, value),
        InputKind.Variable => inputs.WithVariable(input.Key, value),
        InputKind.Environment => inputs.WithEnvironment(input.Key, value),
        InputKind.Header => inputs.WithHeader(input.Key, value),
        _ => inputs,
    };

    /// <summary>A <c>"type": "registry"</c> entry: the registry's launch plan is what runs; only env, headers and timeout are the developer's.</summary>
    private static McpServerConfig RegistryEntry(LaunchInputs inputs, AddRequest request)
    {
        var env = inputs.Environment.AddRange(request.Environment);
        var headers = inputs.Headers.AddRange(request.Headers);
        return new McpServerConfig
        {
            Type = McpServerTypes.Registry,
            Env = env.IsEmpty ? null : Dedupe(env, StringComparer.Ordinal),
            Headers = headers.IsEmpty ? null : Dedupe(headers, StringComparer.OrdinalIgnoreCase),
            Timeout = request.Timeout,
        };
    }

    /// <summary>
    /// A server needing argument or URL inputs cannot be a registry entry (those carry only env, headers and timeout):
    /// the plan is written out as command and args (or url), which admission matches against the registry.
    /// </summary>
    private static McpServerConfig ConcreteEntry(AddTarget target, LaunchInputs inputs, AddRequest request)
    {
        if (target.Package is { } package)
        {
            var plan = LaunchPlanner.Plan(package, inputs.WithEnvironment(request.Environment)).Plan!;
            return new McpServerConfig
            {
                Command = plan.Command,
                Args = plan.Args,
                Env = plan.Environment.IsEmpty ? null : [.. plan.Environment.OrderBy(p => p.Key, StringComparer.Ordinal)],
                Timeout = request.Timeout,
            };
        }

        var remote = RemotePlanner.Plan(target.Remote!, inputs.WithHeaders(request.Headers)).Plan!;
        return new McpServerConfig
        {
            Type = remote.Type,
            Url = remote.Url,
            Headers = remote.Headers.IsEmpty ? null : [.. remote.Headers.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase)],
            Timeout = request.Timeout,
        };
    }

    private static ImmutableArray<KeyValuePair<string, string>> Dedupe(ImmutableArray<KeyValuePair<string, string>> pairs, StringComparer comparer)
    {
        var result = new List<KeyValuePair<string, string>>();
        foreach (var pair in pairs)
        {
            var at = result.FindIndex(p => comparer.Equals(p.Key, pair.Key));
            if (at >= 0)
            {
                result[at] = pair;
            }
            else
            {
                result.Add(pair);
            }
        }

        return [.. result];
    }

    /// <summary>A replaced entry keeps the developer's own settings that admission does not look at (tool lists, unknown fields).</summary>
    private static McpServerConfig Preserve(McpServerConfig existing, McpServerConfig added) => added with
    {
        AutoApprove = existing.AutoApprove,
        DisabledTools = existing.DisabledTools,
    };
}
