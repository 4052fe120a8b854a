using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Models;

/// <summary>The policy bundle's <c>models</c>: the caller's available models, default marked, from the same evaluator as every other surface.</summary>
internal static class ModelBundle
{
    /// <summary>Reads the caller's model scope on <paramref name="connection"/>; the returned writer adds one element per available model.</summary>
    public static async Task<Action<Utf8JsonWriter>> ForAsync(DbConnection connection, IServiceProvider services, Caller caller, string organisationSlug, string? accountSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(caller);
        var groups = await connection.QueryAsync("SELECT group_name FROM api_token_groups WHERE token_id = @id ORDER BY group_name", null,
            r => r.GetString(0), cancellationToken, ("id", caller.TokenId)).ConfigureAwait(false);
        var scope = await ModelAccess.ScopeAsync(connection, services.GetRequiredService<ModelCatalogStore>(), new ModelCaller(caller, organisationSlug, accountSlug, groups), cancellationToken).ConfigureAwait(false);
        var listing = scope.Evaluator().List();
        return w =>
        {
            foreach (var availability in listing.Available)
            {
                ModelListingJson.WriteModel(w, availability, string.Equals(availability.Model.Id, listing.DefaultModel, StringComparison.OrdinalIgnoreCase), null);
            }
        };
    }
}
