using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>
/// What a developer's token may see: <c>GET /api/v1/models</c> (the available models with the default marked; with
/// <c>?all=true</c> the others too, each with its reason) and <c>GET /api/v1/models/explain?model=X</c> (which rule
/// decides a request for X). Both come from the same evaluator the model endpoint enforces with.
/// </summary>
internal static class DeveloperModelsApi
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/models", ListAsync);
        app.MapGet("/api/v1/models/explain", ExplainAsync);
    }

    internal static async Task<IResult> ListAsync(HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, CancellationToken cancellationToken)
    {
        var all = context.Request.Query["all"].ToString();
        if (all.Length > 0 && all is not ("true" or "false"))
        {
            return Problems.Query("all", "expected true or false", all);
        }

        var scope = await ModelAccess.ForTokenAsync(database, catalogs, time, ModelAccess.PresentedToken(context.Request, allowApiKeyHeader: false), cancellationToken).ConfigureAwait(false);
        if (scope is null)
        {
            return Authentication.Unauthorized(context);
        }

        var listing = scope.Evaluator().List();
        // The listing contract is Core's (ModelListingWire): steward models list reads it with the same code.
        var body = ResponseJson.Write(w => ModelListingWire.Write(w, new ModelsListing(scope.Who.OrganisationSlug, scope.Who.AccountSlug, [.. scope.Who.Groups], scope.Revision,
            scope.Effective.Policy.ControlEnabled, listing.DefaultModel, ModelListingJson.Fallback(listing), ModelListingJson.Listed(listing, all == "true"))));
        context.Response.Headers.CacheControl = "private, no-cache";
        return ETags.Json(context, body);
    }

    internal static async Task<IResult> ExplainAsync(HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, CancellationToken cancellationToken)
    {
        var requested = context.Request.Query["model"].ToString();
        if (requested.Length is 0 or > 200)
        {
            return Problems.Query("model", "expected the model id, alias or provider model id to explain (1 to 200 characters)", requested.Length == 0 ? null : requested[..Math.Min(requested.Length, 200)]);
        }

        var scope = await ModelAccess.ForTokenAsync(database, catalogs, time, ModelAccess.PresentedToken(context.Request, allowApiKeyHeader: false), cancellationToken).ConfigureAwait(false);
        if (scope is null)
        {
            return Authentication.Unauthorized(context);
        }

        var explanation = ModelExplainer.Explain(scope.Catalog.Catalog, scope.Effective, requested);
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            WriteWho(w, scope);
            w.WriteString("profile", scope.AccountProfile ? "account" : "organisation");
            WriteExplanation(w, explanation);
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    private static void WriteWho(Utf8JsonWriter w, ModelScope scope)
    {
        w.WriteString("organisation", scope.Who.OrganisationSlug);
        if (scope.Who.AccountSlug is null)
        {
            w.WriteNull("account");
        }
        else
        {
            w.WriteString("account", scope.Who.AccountSlug);
        }

        w.WriteStartArray("groups");
        foreach (var group in scope.Who.Groups)
        {
            w.WriteStringValue(group);
        }

        w.WriteEndArray();
        w.WriteString("revision", scope.Revision);
    }

    internal static void WriteExplanation(Utf8JsonWriter w, ModelExplanation e)
    {
        w.WriteString("requested", e.Requested);
        w.WriteBoolean("allowed", e.Allowed);
        w.WriteString("rule", e.Rule);
        WriteOptional(w, "resolvedBy", e.ResolvedBy);
        WriteOptional(w, "modelId", e.ModelId);
        WriteOptional(w, "status", e.Status);
        WriteOptional(w, "scope", e.Scope);
        if (e.ModelId is not null)
        {
            WriteStrings(w, "modelGeographies", e.ModelGeographies);
        }

        WriteOptional(w, "resolvedTo", e.ResolvedTo);
        WriteOptional(w, "placement", e.Placement);
        WriteOptional(w, "providerModelId", e.ProviderModelId);
        WriteOptional(w, "notice", e.Notice);
        WriteOptional(w, "requestedPlacement", e.RequestedPlacement);
        if (e.AllowedScopes is { } scopes)
        {
            WriteStrings(w, "allowedScopes", scopes);
            WriteStrings(w, "allowedGeographies", e.AllowedGeographies ?? []);
        }

        WriteOptional(w, "group", e.Group);
        if (e.GroupEffect is { } effect)
        {
            w.WriteString("groupEffect", effect == GroupRuleEffect.Deny ? "deny" : "allowOnly");
        }

        if (e.NewModels is { } rule)
        {
            w.WriteString("newModels", rule == NewModelRule.AutoEnableGaRegional ? ModelPolicyJson.AutoEnableGaRegional : ModelPolicyJson.RequireApproval);
        }

        WriteOptional(w, "successor", e.Successor);
        if (e.Candidates is { } candidates)
        {
            w.WriteStartArray("candidates");
            foreach (var candidate in candidates)
            {
                w.WriteStartObject();
                w.WriteString("id", candidate.ModelId);
                w.WriteBoolean("available", candidate.Available);
                WriteOptional(w, "reason", candidate.Reason);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
    }
}
