namespace Steward.Core.Models;

public enum ModelStatus
{
    GA,
    Preview,
    Experimental,
    Deprecated,
    Retired,
}

public enum InferenceScope
{
    /// <summary>Inference stays within one of the model's geographies (US, EU, …).</summary>
    Regional,

    /// <summary>Inference may run in any region worldwide.</summary>
    Global,
}

/// <summary>
/// One model the organisation could use: what it is, its lifecycle status, where its inference runs, and the provider's
/// model id for each place it runs (Bedrock's <c>us.</c> / <c>eu.</c> / <c>global.</c> inference profiles, for example).
/// </summary>
public sealed record ModelEntry
{
    /// <summary>The key used for placement and for the well-known provider id key of global inference.</summary>
    public const string GlobalKey = "global";

    public required string Id { get; init; }
    public required string DisplayName { get; init; }
    public string Description { get; init; } = "";
    public string Provider { get; init; } = "";
    public ModelStatus Status { get; init; } = ModelStatus.GA;
    public InferenceScope Scope { get; init; } = InferenceScope.Regional;

    /// <summary>For regional models: the geographies it can run in (US, EU, …). Empty for global models.</summary>
    public IReadOnlyList<string> Geographies { get; init; } = [];

    /// <summary>Provider model ids keyed by geography (<c>US</c>, <c>EU</c>) or <see cref="GlobalKey"/>.</summary>
    public IReadOnlyDictionary<string, string> ProviderModelIds { get; init; } = new Dictionary<string, string>();

    public bool OpenWeights { get; init; }
    public IReadOnlyList<string> Aliases { get; init; } = [];
    public DateOnly? ReleasedOn { get; init; }
    public DateOnly? DeprecatedOn { get; init; }
    public DateOnly? RetiresOn { get; init; }
    public string? SuccessorId { get; init; }

    /// <summary>For a pseudo-model such as "Auto": the concrete models it may resolve to, in order of preference.</summary>
    public IReadOnlyList<string>? ResolvesTo { get; init; }

    public bool IsAuto => ResolvesTo is not null;
}

/// <summary>The catalog: every model Steward knows, looked up by id, alias or provider model id (case-insensitive).</summary>
public sealed class ModelCatalog
{
    private readonly Dictionary<string, ModelEntry> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (ModelEntry Model, string Placement)> _byProviderId = new(StringComparer.Ordinal);

    public ModelCatalog(IEnumerable<ModelEntry> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        Models = [.. models];
        foreach (var model in Models)
        {
            _byName.TryAdd(model.Id, model);
        }

        foreach (var model in Models)
        {
            foreach (var alias in model.Aliases)
            {
                _byName.TryAdd(alias, model);
            }

            foreach (var (placement, providerId) in model.ProviderModelIds)
            {
                _byProviderId.TryAdd(providerId, (model, placement));
            }
        }
    }

    public IReadOnlyList<ModelEntry> Models { get; }

    public ModelEntry? Find(string idOrAlias) => _byName.GetValueOrDefault(idOrAlias);

    /// <summary>A provider model id (<c>eu.anthropic.claude-…</c>) and the placement it names (<c>EU</c>, <c>global</c>).</summary>
    public (ModelEntry Model, string Placement)? FindProviderId(string providerId) =>
        _byProviderId.TryGetValue(providerId, out var found) ? found : null;
}
