using Steward.Core.Config;
using Steward.Core.Registry;

namespace Steward.Core.Admission;

/// <summary>
/// Why a server is refused when the admin deprecated or deleted what it runs: the bundle names those versions with their
/// status message (<see cref="AdmissionPolicy.Withdrawn"/>), and a refusal for "not in the registry" or "version not
/// approved" becomes the admin's words ("incident INC-42 …"). Identified by what runs, as admission is, never by the
/// configured name alone. The decision's kind never changes: a withdrawn version is still refused.
/// </summary>
public static class WithdrawnEntries
{
    /// <summary><paramref name="decision"/>, with the admin's message when it refuses a withdrawn version.</summary>
    public static AdmissionDecision Explain(IReadOnlyList<RegistryEntry> withdrawn, string configuredName, McpServerConfig config, AdmissionDecision decision)
    {
        ArgumentNullException.ThrowIfNull(withdrawn);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(decision);
        if (withdrawn.Count == 0 || decision is not AdmissionDecision.Blocked { ReasonCode: AdmissionReasons.NotInRegistry or AdmissionReasons.VersionNotApproved } blocked)
        {
            return decision;
        }

        // As if they were still approved (a deleted version is otherwise left out by the evaluator): which one is it?
        var evaluator = new AdmissionEvaluator(withdrawn.Select(e => e with { Official = (e.Official ?? new OfficialMeta()) with { Status = ServerStatuses.Active } }));
        var (name, version) = evaluator.Evaluate(configuredName, config) switch
        {
            AdmissionDecision.Allowed a => (a.Server.Name, a.Server.Version),
            AdmissionDecision.Relaunch r => (r.Server.Name, r.FromVersion),
            _ => (null, null),
        };
        if (name is null || Find(withdrawn, name, version) is not { } entry)
        {
            return decision;
        }

        return blocked with { Message = Describe(configuredName, entry) };
    }

    /// <summary>For <c>steward mcp add &lt;name&gt;</c>: the admin's message when every version of the registry server <paramref name="registryName"/> is withdrawn.</summary>
    public static string? ForName(IReadOnlyList<RegistryEntry> withdrawn, string registryName)
    {
        ArgumentNullException.ThrowIfNull(withdrawn);
        return Find(withdrawn, registryName, null) is { } entry ? Describe(registryName, entry) : null;
    }

    private static RegistryEntry? Find(IReadOnlyList<RegistryEntry> withdrawn, string name, string? version) =>
        withdrawn.Where(e => e.Server.Name == name && (version is null || e.Server.Version == version))
            .OrderByDescending(e => e.Official?.StatusChangedAt ?? DateTimeOffset.MinValue)
            .FirstOrDefault();

    private static string Describe(string configuredName, RegistryEntry entry)
    {
        var status = entry.Official?.Status ?? ServerStatuses.Deleted;
        var message = entry.Official?.StatusMessage is { Length: > 0 } text ? text : "no reason was given";
        var named = configuredName == entry.Server.Name ? $"\"{configuredName}\"" : $"\"{configuredName}\" (the registry's \"{entry.Server.Name}\")";
        return $"{named} {entry.Server.Version} was {status} by your organisation's Steward administrator: {message}";
    }
}
