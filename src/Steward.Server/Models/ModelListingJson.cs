using System.Globalization;
using System.Text.Json;
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

    public static void WriteModel(Utf8JsonWriter w, ModelAvailability availability, bool isDefault, ModelAvailabilityPolicy? configured)
    {
        var model = availability.Model;
        w.WriteStartObject();
        w.WriteString("id", model.Id);
        w.WriteString("displayName", model.DisplayName);
        w.WriteString("description", model.Description);
        w.WriteString("provider", model.Provider);
        w.WriteString("status", ModelExplainer.StatusName(model.Status));
        if (model.IsAuto)
        {
            w.WriteNull("scope");
        }
        else
        {
            w.WriteString("scope", ModelExplainer.ScopeName(model.Scope));
        }

        w.WriteStartArray("geographies");
        foreach (var geography in model.Geographies)
        {
            w.WriteStringValue(geography);
        }

        w.WriteEndArray();
        w.WriteStartArray("aliases");
        foreach (var alias in model.Aliases)
        {
            w.WriteStringValue(alias);
        }

        w.WriteEndArray();
        w.WriteBoolean("openWeights", model.OpenWeights);
        if (configured is not null)
        {
            if (!configured.ControlEnabled)
            {
                w.WriteString("state", "uncontrolled");
            }
            else if (configured.States.TryGetValue(model.Id, out var enabled))
            {
                w.WriteString("state", enabled ? "enabled" : "disabled");
            }
            else
            {
                w.WriteString("state", "new");
            }
        }

        w.WriteBoolean("available", availability.Available);
        if (availability.Reason is null)
        {
            w.WriteNull("reason");
        }
        else
        {
            w.WriteString("reason", availability.Reason);
        }

        w.WriteBoolean("default", isDefault);
        if (availability.Available)
        {
            var concrete = availability.ResolvedTo ?? model;
            w.WriteString("placement", availability.Placement);
            if (concrete.ProviderModelIds.GetValueOrDefault(availability.Placement ?? "") is { } providerId)
            {
                w.WriteString("providerModelId", providerId);
            }
            else
            {
                w.WriteNull("providerModelId");
            }

            if (availability.ResolvedTo is { } resolved)
            {
                w.WriteString("resolvesTo", resolved.Id);
            }
        }

        if (model.SuccessorId is { } successor)
        {
            w.WriteString("successor", successor);
        }

        if (model.RetiresOn is { } retires)
        {
            w.WriteString("retiresOn", retires.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        }

        w.WriteEndObject();
    }

    /// <summary>The default and, when the configured default is unavailable, what stands in and why (clients tell the developer).</summary>
    public static void WriteDefault(Utf8JsonWriter w, ModelListing listing)
    {
        if (listing.DefaultModel is null)
        {
            w.WriteNull("defaultModel");
        }
        else
        {
            w.WriteString("defaultModel", listing.DefaultModel);
        }

        if (listing.Fallback is not { } fallback)
        {
            w.WriteNull("defaultFallback");
            return;
        }

        w.WriteStartObject("defaultFallback");
        w.WriteString("requested", fallback.Requested);
        if (fallback.Actual is null)
        {
            w.WriteNull("actual");
        }
        else
        {
            w.WriteString("actual", fallback.Actual);
        }

        w.WriteString("reason", fallback.Reason);
        w.WriteString("message", FallbackMessage(fallback));
        w.WriteEndObject();
    }

    public static string FallbackMessage(DefaultFallback fallback) => fallback.Actual is null
        ? $"The default model '{fallback.Requested}' is not available ({fallback.Reason}) and no other model is available."
        : $"The default model '{fallback.Requested}' is not available ({fallback.Reason}); '{fallback.Actual}' is used instead.";
}
