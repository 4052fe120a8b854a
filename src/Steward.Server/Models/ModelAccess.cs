using System.Globalization;
using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>A token's holder as the model surfaces see them: the caller, their organisation and account slugs, their groups.</summary>
internal sealed record ModelCaller(Caller Caller, string OrganisationSlug, string? AccountSlug, IReadOnlyList<string> Groups);

/// <summary>
/// Everything one decision needs: the catalog, the effective policy of the developer (the account's profile when it has
/// one, else the organisation's; the group rules of their groups) and the revision it was read at.
/// </summary>
internal sealed record ModelScope(ModelCaller Who, StoredCatalog Catalog, EffectiveModelPolicy Effective, string Revision, bool AccountProfile)
{
    /// <summary>The configured upstreams as stored (read in the same round trip, for the model endpoint).</summary>
    public IReadOnlyList<StoredUpstream> Upstreams { get; init; } = [];

    public ModelEvaluator Evaluator() => new(Catalog.Catalog, Effective);
}

/// <summary>The policy of one stored profile (organisation or account), for the admin API.</summary>
internal sealed record ProfileModelPolicy(string ProfileId, ModelAvailabilityPolicy Policy, long Revision);

/// <summary>Reads what the model surfaces decide with. Two round trips per request: the token, then the policy.</summary>
internal static class ModelAccess
{
    /// <summary>The bearer token of <c>Authorization: Bearer</c>, or (the Anthropic convention) of <c>x-api-key</c>.</summary>
    public static string? PresentedToken(Microsoft.AspNetCore.Http.HttpRequest request, bool allowApiKeyHeader)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization.ToString();
        string? token = null;
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = header["Bearer ".Length..].Trim();
        }
        else if (allowApiKeyHeader && request.Headers["x-api-key"].ToString() is { Length: > 0 } apiKey)
        {
            token = apiKey.Trim();
        }

        return token is { Length: > 0 and <= 512 } ? token : null;
    }

    /// <summary>The scope of a valid, unexpired, unrevoked token; null otherwise.</summary>
    public static async Task<ModelScope?> ForTokenAsync(Database database, ModelCatalogStore catalogs, TimeProvider time, string? token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        if (token is null)
        {
            return null;
        }

        var hash = Tokens.Hash(token);
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        ModelCaller? who = null;
        await using (var command = connection.Command(
            """
            SELECT t.id, t.name, t.organisation_id, t.account_id, t.role, t.token_hash, t.expires_at, t.revoked_at, o.slug, a.slug
            FROM api_tokens t JOIN organisations o ON o.id = t.organisation_id LEFT JOIN accounts a ON a.id = t.account_id
            WHERE t.token_hash = @hash;
            SELECT g.group_name FROM api_token_groups g JOIN api_tokens t ON t.id = g.token_id WHERE t.token_hash = @hash ORDER BY g.group_name
            """, null, ("hash", hash)))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            var caller = new Caller(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.NullableString(3), reader.GetString(4));
            var valid = Tokens.Matches(hash, reader.GetString(5)) && reader.IsDBNull(7)
                && (reader.NullableString(6) is not { } expires || Timestamps.Parse(expires) > time.GetUtcNow());
            var organisationSlug = reader.GetString(8);
            var accountSlug = reader.NullableString(9);
            if (!valid || await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            var groups = new List<string>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                groups.Add(reader.GetString(0));
            }

            who = new ModelCaller(caller, organisationSlug, accountSlug, groups);
        }

        return await ScopeAsync(connection, catalogs, who, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The effective policy of <paramref name="who"/>: one command reading both profiles, their model policies, the group rules and the catalog revision.</summary>
    public static async Task<ModelScope> ScopeAsync(DbConnection connection, ModelCatalogStore catalogs, ModelCaller who, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(catalogs);
        ArgumentNullException.ThrowIfNull(who);
        var organisationId = who.Caller.OrganisationId;
        var accountId = who.Caller.AccountId;
        (ModelAvailabilityPolicy Policy, long Revision)? organisation = null;
        (ModelAvailabilityPolicy Policy, long Revision)? account = null;
        string? groupRules = null;
        long? catalogRevision = null;
        var upstreams = new List<StoredUpstream>();
        await using (var command = connection.Command(
            """
            SELECT p.account_id, p.model_control_enabled, p.revision, m.policy_json FROM profiles p LEFT JOIN model_policies m ON m.profile_id = p.id
            WHERE p.organisation_id = @org AND (p.account_id IS NULL OR p.account_id = @account);
            SELECT rules_json FROM model_group_rules WHERE organisation_id = @org;
            SELECT revision FROM model_catalog WHERE id = 1;
            SELECT provider, placement, base_url, api_key_sealed FROM model_upstreams
            """, null, ("org", organisationId), ("account", accountId ?? "")))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var policy = (ModelPolicyJson.FromStored(reader.NullableString(3), reader.Boolean(1)), reader.Int64(2));
                if (reader.IsDBNull(0))
                {
                    organisation = policy;
                }
                else
                {
                    account = policy;
                }
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                groupRules = reader.GetString(0);
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                catalogRevision = reader.Int64(0);
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                upstreams.Add(new StoredUpstream(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.NullableString(3)));
            }
        }

        var catalog = await catalogs.GetAsync(connection, catalogRevision, cancellationToken).ConfigureAwait(false);
        var organisationPolicy = organisation?.Policy ?? ModelAvailabilityPolicy.Uncontrolled;
        var effective = EffectiveModelPolicy.For(organisationPolicy, account?.Policy, ModelPolicyJson.FromStoredGroups(groupRules), who.Groups);
        var revision = string.Create(CultureInfo.InvariantCulture, $"{organisation?.Revision ?? 0}{(account is { } a ? $".{a.Revision}" : "")}.c{catalog.Revision}");
        return new ModelScope(who, catalog, effective, revision, account is not null) { Upstreams = upstreams };
    }

    /// <summary>The stored model policy of one profile; null when the profile does not exist.</summary>
    public static async Task<ProfileModelPolicy?> ProfilePolicyAsync(DbConnection connection, DbTransaction? transaction, string organisationId, string? accountId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var rows = await connection.QueryAsync(
            accountId is null
                ? "SELECT p.id, p.model_control_enabled, p.revision, m.policy_json FROM profiles p LEFT JOIN model_policies m ON m.profile_id = p.id WHERE p.organisation_id = @org AND p.account_id IS NULL"
                : "SELECT p.id, p.model_control_enabled, p.revision, m.policy_json FROM profiles p LEFT JOIN model_policies m ON m.profile_id = p.id WHERE p.organisation_id = @org AND p.account_id = @account",
            transaction,
            r => new ProfileModelPolicy(r.GetString(0), ModelPolicyJson.FromStored(r.NullableString(3), r.Boolean(1)), r.Int64(2)),
            cancellationToken, ("org", organisationId), ("account", accountId)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    public static async Task<List<GroupModelRule>> GroupRulesAsync(DbConnection connection, DbTransaction? transaction, string organisationId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var json = await connection.ScalarAsync("SELECT rules_json FROM model_group_rules WHERE organisation_id = @org", transaction, cancellationToken, ("org", organisationId)).ConfigureAwait(false);
        return ModelPolicyJson.FromStoredGroups(json as string);
    }
}
