using System.Collections.Immutable;
using System.Data.Common;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Core.Sandbox;
using Steward.Server.Audit;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Identity;
using Steward.Server.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Organisations;

/// <summary>
/// Sandbox profiles (admin API): one per registry entry (all its versions), a default for the organisation and one per
/// account (which replaces the organisation's for its developers). Each change is validated (422 with every problem's
/// path), audited with before and after, and raises the organisation's revision, so the next bundle carries it.
/// </summary>
internal static class SandboxApi
{
    public const int MaxBodyBytes = 64 * 1024;
    private const string DefaultSubject = "default";

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapGet("/sandbox", ListAsync);
        organisation.MapPut("/sandbox/default", (HttpContext c, Database d, TimeProvider t, CancellationToken ct) => PutAsync(c, d, t, Target.Default, ct));
        organisation.MapDelete("/sandbox/default", (HttpContext c, Database d, TimeProvider t, CancellationToken ct) => DeleteAsync(c, d, t, Target.Default, ct));
        organisation.MapPut("/accounts/{account}/sandbox", (HttpContext c, Database d, TimeProvider t, CancellationToken ct) => PutAsync(c, d, t, Target.Account, ct));
        organisation.MapDelete("/accounts/{account}/sandbox", (HttpContext c, Database d, TimeProvider t, CancellationToken ct) => DeleteAsync(c, d, t, Target.Account, ct));
        organisation.MapPut("/sandbox/servers/{**name}", PutServerAsync);
        organisation.MapDelete("/sandbox/servers/{**name}", DeleteServerAsync);
    }

    /// <summary><c>PUT …/sandbox/servers/{name}</c>: the entry's profile (201 created, 200 replaced or unchanged; 422 with every problem; 404 for a name the registry does not have).</summary>
    internal static Task<IResult> PutServerAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken) =>
        PutAsync(context, database, time, Target.Server, cancellationToken);

    /// <summary><c>DELETE …/sandbox/servers/{name}</c>: the entry goes back to the default profile (204; 404 when it had none).</summary>
    internal static Task<IResult> DeleteServerAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken) =>
        DeleteAsync(context, database, time, Target.Server, cancellationToken);

    private enum Target
    {
        Default,
        Account,
        Server,
    }

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

    private static async Task<IResult> PutAsync(HttpContext context, Database database, TimeProvider time, Target target, CancellationToken cancellationToken)
    {
        var body = await RequestBodies.ReadAsync(context.Request, MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(MaxBodyBytes);
        }

        SandboxProfile? profile;
        using (var document = RequestJson.Parse(body, out var refused))
        {
            if (document is null)
            {
                return refused!;
            }

            var (parsed, problems) = SandboxRules.Parse(document.RootElement);
            if (parsed is null)
            {
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "Invalid sandbox profile",
                    $"{problems.Length} problem(s) in the sandbox profile; each is listed with its path", AdminRegistryApi.ProblemItems(problems));
            }

            profile = parsed;
        }

        return await WriteAsync(context, database, time, target, profile, cancellationToken).ConfigureAwait(false);
    }

    private static Task<IResult> DeleteAsync(HttpContext context, Database database, TimeProvider time, Target target, CancellationToken cancellationToken) =>
        WriteAsync(context, database, time, target, null, cancellationToken);

    /// <summary>Sets (or with a null profile removes) one profile, with its audit row and a new revision, in one transaction.</summary>
    private static async Task<IResult> WriteAsync(HttpContext context, Database database, TimeProvider time, Target target, SandboxProfile? profile, CancellationToken cancellationToken)
    {
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        string subject;
        string auditSubject;
        string? accountId = null;
        switch (target)
        {
            case Target.Account:
                var slug = context.GetRouteValue("account") as string ?? "";
                var account = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, slug, cancellationToken).ConfigureAwait(false);
                if (account is null)
                {
                    return ProfilesApi.AccountNotFound(slug);
                }

                accountId = account.Id;
                subject = "account:" + account.Id;
                auditSubject = "sandbox:account/" + account.Slug;
                break;
            case Target.Server:
                var name = context.GetRouteValue("name") as string ?? "";
                var known = await connection.ScalarAsync("SELECT 1 FROM registry_entries WHERE organisation_id = @org AND name = @name LIMIT 1", transaction, cancellationToken,
                    ("org", organisation.Id), ("name", name)).ConfigureAwait(false);
                if (known is null)
                {
                    return Problems.Result(StatusCodes.Status404NotFound, "Server not found",
                        $"the registry has no server \"{name}\"; publish it first (a sandbox profile applies to every version of an entry)");
                }

                subject = "server:" + name;
                auditSubject = "sandbox:server/" + name;
                break;
            default:
                subject = DefaultSubject;
                auditSubject = "sandbox:organisation";
                break;
        }

        var before = (await connection.QueryAsync("SELECT profile_json FROM sandbox_profiles WHERE organisation_id = @org AND subject = @subject", transaction,
            r => r.GetString(0), cancellationToken, ("org", organisation.Id), ("subject", subject)).ConfigureAwait(false)).FirstOrDefault();
        var after = profile?.ToJson();
        if (before == after)
        {
            return after is null ? NotSet(auditSubject) : new JsonBytes(Encoding.UTF8.GetBytes(after), StatusCodes.Status200OK);
        }

        if (after is null)
        {
            await connection.ExecuteAsync("DELETE FROM sandbox_profiles WHERE organisation_id = @org AND subject = @subject", transaction, cancellationToken,
                ("org", organisation.Id), ("subject", subject)).ConfigureAwait(false);
        }
        else if (before is null)
        {
            await connection.ExecuteAsync(
                "INSERT INTO sandbox_profiles (organisation_id, subject, account_id, profile_json, updated_at) VALUES (@org, @subject, @account, @json, @at)", transaction, cancellationToken,
                ("org", organisation.Id), ("subject", subject), ("account", accountId), ("json", after), ("at", Timestamps.ToText(now))).ConfigureAwait(false);
        }
        else
        {
            await connection.ExecuteAsync("UPDATE sandbox_profiles SET profile_json = @json, updated_at = @at WHERE organisation_id = @org AND subject = @subject", transaction, cancellationToken,
                ("org", organisation.Id), ("subject", subject), ("json", after), ("at", Timestamps.ToText(now))).ConfigureAwait(false);
        }

        // Every bundle of the organisation may carry it (an account's default too: its revision includes the organisation's).
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, after is null ? "sandbox.delete" : before is null ? "sandbox.create" : "sandbox.update",
            auditSubject, before, after, revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return after is null ? Results.NoContent() : new JsonBytes(Encoding.UTF8.GetBytes(after), before is null ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static IResult NotSet(string subject) =>
        Problems.Result(StatusCodes.Status404NotFound, "Not Found", $"{subject} has no sandbox profile");
}
