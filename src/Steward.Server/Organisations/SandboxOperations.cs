using System.Text;
using Steward.Core.Sandbox;
using Steward.Server.Registry;

namespace Steward.Server.Organisations;

/// <summary>
/// Setting and removing sandbox profiles, for the admin API (<see cref="SandboxApi"/>) and the console alike: each change
/// is audited with before and after and raises the organisation's revision, so the next bundle carries it. The caller was
/// authorised by whoever calls: the API's admin filter, or the console's session gate.
/// </summary>
internal static class SandboxOperations
{
    /// <summary>A sandbox profile body (at most <see cref="SandboxApi.MaxBodyBytes"/>, else 413), read and validated: 400 when it is not JSON, 422 with every problem's path.</summary>
    public static Outcome<SandboxProfile> ReadProfile(byte[] body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (body.Length > SandboxApi.MaxBodyBytes)
        {
            return Outcome<SandboxProfile>.Refused(Problems.BodyOf(RequestBodies.TooLarge(SandboxApi.MaxBodyBytes)));
        }

        using var document = RequestJson.Parse(body, out var refused);
        if (document is null)
        {
            return Outcome<SandboxProfile>.Refused(Problems.BodyOf(refused!));
        }

        var (parsed, problems) = SandboxRules.Parse(document.RootElement);
        return parsed is null
            ? Outcome<SandboxProfile>.Refused(Problems.Body(StatusCodes.Status422UnprocessableEntity, "Invalid sandbox profile",
                $"{problems.Length} problem(s) in the sandbox profile; each is listed with its path", AdminRegistryApi.ProblemItems(problems)))
            : Outcome<SandboxProfile>.Done(parsed);
    }

    /// <summary>Every sandbox profile of the organisation, as the admin API lists them (the console shows a server's own, or the default).</summary>
    public static async Task<List<SandboxApi.StoredSandbox>> LoadAsync(Database database, Organisation organisation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(organisation);
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        return await SandboxApi.LoadAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets the target's profile: 201 created, 200 replaced or unchanged; 404 for an unknown account, or a name the registry does not have.</summary>
    public static async Task<Outcome<SandboxProfile>> SetAsync(Database database, Caller caller, Organisation organisation, SandboxTarget target, SandboxProfile profile, TimeProvider time,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var (status, problem) = await WriteAsync(database, caller, organisation, target, profile, time, cancellationToken).ConfigureAwait(false);
        return problem is null ? Outcome<SandboxProfile>.Done(profile, status) : Outcome<SandboxProfile>.Refused(problem);
    }

    /// <summary>Removes the target's profile (it goes back to the default); null when done, else 404 when it had none (or there is no such account or entry).</summary>
    public static async Task<ProblemBody?> RemoveAsync(Database database, Caller caller, Organisation organisation, SandboxTarget target, TimeProvider time, CancellationToken cancellationToken) =>
        (await WriteAsync(database, caller, organisation, target, null, time, cancellationToken).ConfigureAwait(false)).Problem;

    /// <summary>Sets (or with a null profile removes) one profile, with its audit row and a new revision, in one transaction.</summary>
    private static async Task<(int Status, ProblemBody? Problem)> WriteAsync(Database database, Caller caller, Organisation organisation, SandboxTarget target, SandboxProfile? profile,
        TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(target);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        string subject;
        string auditSubject;
        string? accountId = null;
        switch (target.Kind)
        {
            case SandboxTargetKind.Account:
                var account = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, target.Key, cancellationToken).ConfigureAwait(false);
                if (account is null)
                {
                    return (0, Problems.BodyOf(ProfilesApi.AccountNotFound(target.Key)));
                }

                accountId = account.Id;
                subject = "account:" + account.Id;
                auditSubject = "sandbox:account/" + account.Slug;
                break;
            case SandboxTargetKind.Server:
                var name = target.Key;
                var known = await connection.ScalarAsync("SELECT 1 FROM registry_entries WHERE organisation_id = @org AND name = @name LIMIT 1", transaction, cancellationToken,
                    ("org", organisation.Id), ("name", name)).ConfigureAwait(false);
                if (known is null)
                {
                    return (0, Problems.Body(StatusCodes.Status404NotFound, "Server not found",
                        $"the registry has no server \"{name}\"; publish it first (a sandbox profile applies to every version of an entry)"));
                }

                subject = "server:" + name;
                auditSubject = "sandbox:server/" + name;
                break;
            default:
                subject = SandboxApi.DefaultSubject;
                auditSubject = "sandbox:organisation";
                break;
        }

        var before = (await connection.QueryAsync("SELECT profile_json FROM sandbox_profiles WHERE organisation_id = @org AND subject = @subject", transaction,
            r => r.GetString(0), cancellationToken, ("org", organisation.Id), ("subject", subject)).ConfigureAwait(false)).FirstOrDefault();
        var after = profile?.ToJson();
        if (before == after)
        {
            return after is null
                ? (0, Problems.Body(StatusCodes.Status404NotFound, "Not Found", $"{auditSubject} has no sandbox profile"))
                : (StatusCodes.Status200OK, null);
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
        return (after is null ? StatusCodes.Status204NoContent : before is null ? StatusCodes.Status201Created : StatusCodes.Status200OK, null);
    }

    /// <summary>The profile as the admin API answers it: its JSON, as stored.</summary>
    public static byte[] Json(SandboxProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return Encoding.UTF8.GetBytes(profile.ToJson());
    }
}
