using System.Text.Json;

namespace Steward.Agent.Models;

/// <summary>
/// The Steward server's answer to <c>api/v1/models/explain?model=…</c>, the parts <c>steward models use</c> acts on.
/// </summary>
/// <param name="ModelId">The model the requested id, alias or provider model id names; null when refused.</param>
/// <param name="ResolvedTo">The model it now resolves to, when the server redirects it (a retired model's successor).</param>
/// <param name="Rule">Why it was refused (<c>disabled_by_policy</c>, <c>not_in_region</c>); null when allowed.</param>
public sealed record ModelAnswer(bool Allowed, string? ModelId, string? ResolvedTo, string? Placement, string? ProviderModelId, string? Notice, string? Rule)
{
    /// <summary>The model used: <see cref="ResolvedTo"/> when the server redirects, else <see cref="ModelId"/>.</summary>
    public string? Chosen => ResolvedTo ?? ModelId;

    /// <summary>Reads the explain document; an allowed decision without its model or placement throws, as the server always sends them.</summary>
    public static ModelAnswer Read(JsonElement root)
    {
        if (!root.GetProperty("allowed").GetBoolean())
        {
            return new ModelAnswer(false, null, null, null, null, null, root.TryGetProperty("rule", out var rule) ? rule.GetString() : null);
        }

        return new ModelAnswer(
            true,
            root.GetProperty("modelId").GetString()!,
            root.TryGetProperty("resolvedTo", out var resolved) ? resolved.GetString()! : null,
            root.GetProperty("placement").GetString(),
            root.TryGetProperty("providerModelId", out var provider) ? provider.GetString() : null,
            root.TryGetProperty("notice", out var notice) ? notice.GetString() : null,
            null);
    }
}
