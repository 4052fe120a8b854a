using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Core.Admission;

public enum AdmissionKind
{
    Allowed,
    Blocked,
    Relaunch,
}

/// <summary>Stable reason codes of <see cref="AdmissionDecision.Blocked"/>: safe to match on, to log and to show.</summary>
public static class AdmissionReasons
{
    /// <summary>The server is disabled in the configuration.</summary>
    public const string Disabled = "disabled";
    /// <summary>Nothing in the registry runs what this server runs, and no entry has its name.</summary>
    public const string NotInRegistry = "not_in_registry";
    /// <summary>A registry entry has this name, but runs a different package (or is remote where this is local).</summary>
    public const string PackageMismatch = "package_mismatch";
    /// <summary>The package is approved, but not at this version.</summary>
    public const string VersionNotApproved = "version_not_approved";
    /// <summary>The package and version are approved, but the arguments differ from what the registry runs.</summary>
    public const string ArgumentsMismatch = "arguments_mismatch";
    /// <summary>The remote URL is not one the registry lists (same host or same name, another URL).</summary>
    public const string UrlMismatch = "url_mismatch";
    /// <summary>A remote over plain http to a host other than this machine.</summary>
    public const string RemoteNotHttps = "remote_not_https";
    /// <summary>The URL is not an absolute http or https URL.</summary>
    public const string UrlInvalid = "url_invalid";
    /// <summary>The URL holds an environment reference: what it connects to would only be known after expansion.</summary>
    public const string UnresolvedReference = "unresolved_reference";
    /// <summary>A <c>"type": "registry"</c> entry names a server the registry does not have.</summary>
    public const string RegistryEntryUnknown = "registry_entry_unknown";
    /// <summary>A <c>"type": "registry"</c> entry whose registry server needs inputs it does not give.</summary>
    public const string InputsMissing = "inputs_missing";
    /// <summary>A <c>"type": "registry"</c> entry whose registry server has nothing Steward can run or connect to.</summary>
    public const string NoRunnableTransport = "no_runnable_transport";
    /// <summary>The configuration's <c>env</c> (or headers) changes a variable the registry entry fixes: registry parameters are read-only.</summary>
    public const string EnvironmentFixed = "environment_fixed";
    /// <summary>The configured server has neither a command nor a URL.</summary>
    public const string InvalidConfig = "invalid_config";
}

/// <summary>The answer for one configured server: allowed (at which registry entry), blocked (why), or relaunch at a newer version.</summary>
public abstract record AdmissionDecision(string ConfiguredName)
{
    public abstract AdmissionKind Kind { get; }

    /// <summary>
    /// The server runs what a registry entry at its latest version runs. <see cref="RegistryName"/> may differ from the
    /// configured name: a renamed server is still the same thing running. For a <c>"type": "registry"</c> entry,
    /// <see cref="Plan"/> or <see cref="Remote"/> is what to run or connect to.
    /// </summary>
    public sealed record Allowed(string ConfiguredName, ServerDetail Server) : AdmissionDecision(ConfiguredName)
    {
        public override AdmissionKind Kind => AdmissionKind.Allowed;
        public string RegistryName => Server.Name;
        public string Version => Server.Version;
        public bool Renamed => ConfiguredName != Server.Name;
        /// <summary>The registry package that matched (local servers).</summary>
        public Package? Package { get; init; }
        /// <summary>The registry remote that matched (remote servers).</summary>
        public RemoteTransport? RemoteEntry { get; init; }
        /// <summary>For a <c>"type": "registry"</c> entry, the launch plan of the registry's latest version.</summary>
        public LaunchPlan? Plan { get; init; }
        /// <summary>For a <c>"type": "registry"</c> entry of a remote server, what to connect to.</summary>
        public RemotePlan? Remote { get; init; }
    }

    /// <summary>The server must not run. <see cref="ReasonCode"/> is one of <see cref="AdmissionReasons"/>; the message never holds argument or header values.</summary>
    public sealed record Blocked(string ConfiguredName, string ReasonCode, string Message) : AdmissionDecision(ConfiguredName)
    {
        public override AdmissionKind Kind => AdmissionKind.Blocked;
    }

    /// <summary>
    /// The server runs what an older version of a registry entry ran: stop it and start <see cref="Server"/> (the
    /// latest version) instead, with <see cref="Package"/> (or <see cref="RemoteEntry"/>) of that version.
    /// </summary>
    public sealed record Relaunch(string ConfiguredName, ServerDetail Server, string FromVersion) : AdmissionDecision(ConfiguredName)
    {
        public override AdmissionKind Kind => AdmissionKind.Relaunch;
        public string RegistryName => Server.Name;
        public string Version => Server.Version;
        public Package? Package { get; init; }
        public RemoteTransport? RemoteEntry { get; init; }
    }
}
