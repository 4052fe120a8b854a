using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>
/// The model part of the hosts' managed settings, for a profile (<c>?account=slug</c> for an account's), from the same
/// evaluator as every other surface (no group rules: a managed settings file applies to everyone who receives it).
/// <list type="bullet">
/// <item><c>GET /api/v1/orgs/{org}/exports/claude-models</c>: Claude Code managed settings — <c>availableModels</c> (the
/// available Anthropic models, matched exactly), <c>enforceAvailableModels</c> (so the Default option is constrained
/// too), <c>deniedModels</c> (the unavailable ones) and <c>model</c> (the default, Auto resolved to its model now).</item>
/// <item><c>GET /api/v1/orgs/{org}/exports/copilot-models</c>: GitHub Copilot's managed settings have only the default
/// (<c>model</c>, <c>"auto"</c> for Auto); which models are enabled is set on GitHub's Models policy page.</item>
/// </list>
/// Each has a <c>/report</c> with what the format could not express.
/// </summary>
internal static class ModelExports
{
    public const string Claude = "claude-models";
    public const string Copilot = "copilot-models";

    public static void Map(IEndpointRouteBuilder app)
    {
        foreach (var format in new[] { Claude, Copilot })
        {
            app.MapGet($"/api/v1/orgs/{{org}}/exports/{format}", (HttpContext context, Database database, ModelCatalogStore catalogs, CancellationToken cancellationToken) =>
                ExportAsync(context, database, catalogs, format, report: false, cancellationToken)).AddEndpointFilter(Authentication.RequireOrganisationMember);
            app.MapGet($"/api/v1/orgs/{{org}}/exports/{format}/report", (HttpContext context, Database database, ModelCatalogStore catalogs, CancellationToken cancellationToken) =>
                ExportAsync(context, database, catalogs, format, report: true, cancellationToken)).AddEndpointFilter(Authentication.RequireOrganisationMember);
        }
    }

    private static async Task<IResult> ExportAsync(HttpContext context, Database database, ModelCatalogStore catalogs, string format, bool report, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        var accountSlug = context.Request.Query["account"].ToString();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        Account? account = null;
        if (accountSlug.Length > 0)
        {
            account = await Profiles.FindAccountAsync(connection, null, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
            if (account is null)
            {
                return ProfilesApi.AccountNotFound(accountSlug);
            }
        }

        var accountPolicy = account is null ? null : await ModelAccess.ProfilePolicyAsync(connection, null, organisation.Id, account.Id, cancellationToken).ConfigureAwait(false);
        var organisationPolicy = await ModelAccess.ProfilePolicyAsync(connection, null, organisation.Id, null, cancellationToken).ConfigureAwait(false);
        var catalog = await catalogs.GetAsync(connection, null, cancellationToken).ConfigureAwait(false);
        var effective = EffectiveModelPolicy.For(organisationPolicy?.Policy ?? ModelAvailabilityPolicy.Uncontrolled, accountPolicy?.Policy, [], []);
        var listing = new ModelEvaluator(catalog.Catalog, effective).List();
        var (document, notes) = format == Claude ? ClaudeSettings(listing) : CopilotSettings(listing);
        if (!report)
        {
            return ETags.Json(context, document);
        }

        return ETags.Json(context, ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("format", format);
            w.WriteString("organisation", organisation.Slug);
            if (account is null)
            {
                w.WriteNull("account");
            }
            else
            {
                w.WriteString("account", account.Slug);
            }

            w.WriteString("profile", accountPolicy is null ? "organisation" : "account");
            w.WriteStartArray("notes");
            foreach (var note in notes)
            {
                w.WriteStringValue(note);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }));
    }

    /// <summary>Claude Code: the available Anthropic models by their catalog id (Claude Code's own model ids), matched exactly.</summary>
    internal static (byte[] Document, List<string> Notes) ClaudeSettings(ModelListing listing)
    {
        var notes = new List<string>();
        var available = new List<string>();
        var denied = new List<string>();
        foreach (var model in listing.Models)
        {
            if (model.Model.IsAuto)
            {
                notes.Add($"{model.Model.Id}: Claude Code has no Auto model; the default is written as the model Auto resolves to now");
                continue;
            }

            if (!string.Equals(model.Model.Provider, "anthropic", StringComparison.OrdinalIgnoreCase))
            {
                if (model.Available)
                {
                    notes.Add($"{model.Model.Id}: not an Anthropic model, so Claude Code cannot use it; left out");
                }

                continue;
            }

            (model.Available ? available : denied).Add(model.Model.Id);
        }

        var defaultEntry = listing.Models.FirstOrDefault(m => m.Model.Id == listing.DefaultModel);
        var defaultModel = defaultEntry?.ResolvedTo?.Id ?? defaultEntry?.Model.Id;
        if (defaultModel is not null && !available.Contains(defaultModel, StringComparer.Ordinal))
        {
            notes.Add($"the default {defaultModel} is not an Anthropic model; model is left out and Claude Code starts on its first available model");
            defaultModel = null;
        }

        if (available.Count == 0)
        {
            notes.Add("no Anthropic model is available in this profile: availableModels is [] and Claude Code will not start a conversation");
        }

        if (listing.Fallback is { } fallback)
        {
            notes.Add(ModelListingJson.FallbackMessage(fallback));
        }

        var document = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("availableModels");
            foreach (var id in available)
            {
                w.WriteStringValue(id);
            }

            w.WriteEndArray();
            w.WriteString("availableModelsMatch", "exact");
            w.WriteBoolean("enforceAvailableModels", true);
            w.WriteStartArray("deniedModels");
            foreach (var id in denied)
            {
                w.WriteStringValue(id);
            }

            w.WriteEndArray();
            if (defaultModel is not null)
            {
                w.WriteString("model", defaultModel);
            }

            w.WriteEndObject();
        });
        return (document, notes);
    }

    /// <summary>GitHub Copilot: the default only (<c>"auto"</c> for Auto); model availability has no client-side key.</summary>
    internal static (byte[] Document, List<string> Notes) CopilotSettings(ModelListing listing)
    {
        var notes = new List<string>
        {
            "Copilot's managed settings set only the default model; enable and disable models on GitHub's Models policy page (Copilot's model names may differ from this catalog's ids)",
        };
        var defaultEntry = listing.Models.FirstOrDefault(m => m.Model.Id == listing.DefaultModel);
        if (listing.Fallback is { } fallback)
        {
            notes.Add(ModelListingJson.FallbackMessage(fallback));
        }

        var document = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            if (defaultEntry is not null)
            {
                w.WriteString("model", defaultEntry.Model.IsAuto ? "auto" : defaultEntry.Model.Id);
            }

            w.WriteEndObject();
        });
        return (document, notes);
    }
}
