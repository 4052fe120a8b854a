using System.Globalization;
using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>
/// One listing, written for every surface that shows models: the developer listing (<c>GET /api/v1/models</c>), the
/// admin view, the policy bundle's <c>models</c> and the exports. All of them come from <see cref="ModelEvaluator.List"/>.
/// </summary>
internal static class ModelListingJson
{
    /// <summary>The models of a listing: the available ones, or (<paramref name="all"/>) every one with its reason.</summary>
    public static void WriteModels(Utf8JsonWriter w, string property, ModelListing listing, bool all, ModelAvailabilityPolicy? configured = null)
    {
        w.WriteStartArray(property);
        foreach (var availability in listing.Models)
        {
            if (!all && !availability.Available)
            {
                continue;
            }

            WriteModel(w, availability, availability.Available && string.Equals(availability.Model.Id, listing.DefaultModel, StringComparison.OrdinalIgnoreCase), configured);
        }

        w.WriteEndArray();
    }

    public static void WriteModel(Utf8JsonWriter w, ModelAvailability availability, bool isDefault, ModelAvailabilityPolicy? configured) =>
        ModelListingWire.WriteModel(w, Listed(availability, isDefault, configured));

    /// <summary>A model as the listing contract (Core's <see cref="ModelListingWire"/>) carries it.</summary>
    public static ListedModel Listed(ModelAvailability availability, bool isDefault, ModelAvailabilityPolicy? configured)
    {
        ArgumentNullException.ThrowIfNull(availability);
        var model = availability.Model;
        string? state = configured is null ? null
            : !configured.ControlEnabled ? "uncontrolled"
            : configured.States.TryGetValue(model.Id, out var enabled) ? (enabled ? "enabled" : "disabled")
            : "new";
        var concrete = availability.ResolvedTo ?? model;
        return new ListedModel(model.Id, model.DisplayName, model.Description, model.Provider, ModelExplainer.StatusName(model.Status),
            model.IsAuto ? null : ModelExplainer.ScopeName(model.Scope), [.. model.Geographies], [.. model.Aliases], model.OpenWeights, state,
            availability.Available, availability.Reason, isDefault,
            Placement: availability.Available ? availability.Placement : null,
            ProviderModelId: availability.Available ? concrete.ProviderModelIds.GetValueOrDefault(availability.Placement ?? "") : null,
            ResolvesTo: availability.Available ? availability.ResolvedTo?.Id : null,
            Successor: model.SuccessorId,
            RetiresOn: model.RetiresOn?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
    }

    /// <summary>The models of a listing as the contract carries them: the available ones, or (<paramref name="all"/>) every one.</summary>
    public static List<ListedModel> Listed(ModelListing listing, bool all, ModelAvailabilityPolicy? configured = null)
    {
        ArgumentNullException.ThrowIfNull(listing);
        return [.. listing.Models.Where(a => all || a.Available)
            .Select(a => Listed(a, a.Available && string.Equals(a.Model.Id, listing.DefaultModel, StringComparison.OrdinalIgnoreCase), configured))];
    }

    /// <summary>The default and, when the configured default is unavailable, what stands in and why (clients tell the developer).</summary>
    public static void WriteDefault(Utf8JsonWriter w, ModelListing listing) =>
        ModelListingWire.WriteDefault(w, listing.DefaultModel, Fallback(listing));

    public static ListedFallback? Fallback(ModelListing listing) =>
        listing.Fallback is { } fallback ? new ListedFallback(fallback.Requested, fallback.Actual, fallback.Reason, FallbackMessage(fallback)) : null;

    public static string FallbackMessage(DefaultFallback fallback) => fallback.Actual is null
        ? $"The default model '{fallback.Requested}' is not available ({fallback.Reason}) and no other model is available."
        : $"The default model '{fallback.Requested}' is not available ({fallback.Reason}); '{fallback.Actual}' is used instead.";
}
