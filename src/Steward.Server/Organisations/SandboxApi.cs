using System.Collections.Immutable;
using System.Text;
using Steward.Core.Sandbox;
using Steward.Server.Registry;

namespace Steward.Server.Organisations;

/// <summary>
/// Sandbox profiles (admin API): one per registry entry (all its versions), a default for the organisation and one per
/// account (which replaces the organisation's for its developers). Each change is validated (422 with every problem's
/// path), audited with before and after, and raises the organisation's revision, so the next bundle carries it.
/// Writes are <see cref="SandboxOperations"/>, which the console calls too; these endpoints are their HTTP face.
/// </summary>
internal static class SandboxApi
{
    public const int MaxBodyBytes = 64 * 1024;
    internal const string DefaultSubject = "default";

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapGet("/sandbox", ListAsync);
        organisation.MapPut("/sandbox/default", (HttpContext c, Database d, TimeProvider t, CancellationToken ct) => PutAsync(c, d, t, SandboxTarget.OrganisationDefault, ct));
        organisation.MapDelete("/sandbox/default", (HttpContext c, Database d, TimeProvider t, CancellationToken ct) => DeleteAsync(c, d, t, SandboxTarget.OrganisationDefault, ct));
        organisation.MapPut("/accounts/{account}/sandbox", (HttpContext c, Database d, TimeProvider t, CancellationToken ct) => PutAsync(c, d, t, AccountOf(c), ct));
        organisation.MapDelete("/accounts/{account}/sandbox", (HttpContext c, Database d, TimeProvider t, CancellationToken ct) => DeleteAsync(c, d, t, AccountOf(c), ct));
        organisation.MapPut("/sandbox/servers/{**name}", PutServerAsync);
        organisation.MapDelete("/sandbox/servers/{**name}", DeleteServerAsync);
    }

    /// <summary><c>PUT …/sandbox/servers/{name}</c>: the entry's profile (201 created, 200 replaced or unchanged; 422 with every problem; 404 for a name the registry does not have).</summary>
    internal static Task<IResult> PutServerAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken) =>
        PutAsync(context, database, time, ServerOf(context), cancellationToken);

    /// <summary><c>DELETE …/sandbox/servers/{name}</c>: the entry goes back to the default profile (204; 404 when it had none).</summary>
    internal static Task<IResult> DeleteServerAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken) =>
        DeleteAsync(context, database, time, ServerOf(context), cancellationToken);

    private static SandboxTarget AccountOf(HttpContext context) => SandboxTarget.Account(context.GetRouteValue("account") as string ?? "");

    private static SandboxTarget ServerOf(HttpContext context) => SandboxTarget.Server(context.GetRouteValue("name") as string ?? "");

    /// <summary>A stored profile: its subject (<c>default</c>, <c>account:{id}</c>, <c>server:{name}</c>) and the account's slug when it is one.</summary>
    internal sealed record StoredSandbox(string Subject, string? AccountSlug, SandboxProfile Profile, string UpdatedAt);

    /// <summary>Every sandbox profile of the organisation.</summary>
    internal static async Task<List<StoredSandbox>> LoadAsync(DbConnection connection, DbTransaction? transaction, string organisationId, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync(
            "SELECT s.subject, a.slug, s.profile_json, s.updated_at FROM sandbox_profiles s LEFT JOIN accounts a ON a.id = s.account_id WHERE s.organisation_id = @org ORDER BY s.subject",
            transaction, r => (Subject: r.GetString(0), Slug: r.IsDBNull(1) ? null : r.GetString(1), Json: r.GetString(2), At: r.GetString(3)), cancellationToken, ("org", organisationId)).ConfigureAwait(false);
        var result = new List<StoredSandbox>(rows.Count);
        foreach (var row in rows)
        {
            // Stored rows were validated when written; one that no longer reads (a newer server's field) is skipped, never half-applied.
            if (SandboxRules.Parse(row.Json).Profile is { } profile)
            {
                result.Add(new StoredSandbox(row.Subject, row.Slug, profile, row.At));
            }
        }

        return result;
    }

    /// <summary>The bundle's sandbox section for a developer: the account's default, else the organisation's, and every entry's.</summary>
    internal static async Task<SandboxPolicy> PolicyForAsync(DbConnection connection, string organisationId, string? accountId, CancellationToken cancellationToken)
    {
        var stored = await LoadAsync(connection, null, organisationId, cancellationToken).ConfigureAwait(false);
        var organisationDefault = stored.FirstOrDefault(s => s.Subject == DefaultSubject)?.Profile;
        var accountDefault = accountId is null ? null : stored.FirstOrDefault(s => s.Subject == "account:" + accountId)?.Profile;
        var servers = stored.Where(s => s.Subject.StartsWith("server:", StringComparison.Ordinal))
            .ToImmutableDictionary(s => s.Subject["server:".Length..], s => s.Profile, StringComparer.Ordinal);
        return new SandboxPolicy(accountDefault ?? organisationDefault, servers);
    }

    /// <summary><c>GET …/sandbox</c>: the organisation's default, each account's and each entry's.</summary>
    internal static async Task<IResult> ListAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var stored = await LoadAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false);
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("default");
            if (stored.FirstOrDefault(s => s.Subject == DefaultSubject) is { } d)
            {
                d.Profile.WriteTo(w);
            }
            else
            {
                w.WriteNullValue();
            }

            w.WriteStartObject("accounts");
            foreach (var account in stored.Where(s => s.AccountSlug is not null))
            {
                w.WritePropertyName(account.AccountSlug!);
                account.Profile.WriteTo(w);
            }

            w.WriteEndObject();
            w.WriteStartObject("servers");
            foreach (var server in stored.Where(s => s.Subject.StartsWith("server:", StringComparison.Ordinal)))
            {
                w.WritePropertyName(server.Subject["server:".Length..]);
                server.Profile.WriteTo(w);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    private static async Task<IResult> PutAsync(HttpContext context, Database database, TimeProvider time, SandboxTarget target, CancellationToken cancellationToken)
    {
        var body = await RequestBodies.ReadAsync(context.Request, MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(MaxBodyBytes);
        }

        var profile = SandboxOperations.ReadProfile(body);
        if (!profile.Ok)
        {
            return Problems.Of(profile.Problem);
        }

        var set = await SandboxOperations.SetAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), target, profile.Value, time, cancellationToken)
            .ConfigureAwait(false);
        return set.ToResult(SandboxOperations.Json);
    }

    private static async Task<IResult> DeleteAsync(HttpContext context, Database database, TimeProvider time, SandboxTarget target, CancellationToken cancellationToken)
    {
        var problem = await SandboxOperations.RemoveAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), target, time, cancellationToken)
            .ConfigureAwait(false);
        return problem is null ? Results.NoContent() : Problems.Of(problem);
    }
}
