using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>
/// The admin view of every catalog model under a profile's policy: whose profile applies (<see cref="OwnProfile"/>: the
/// account's own), the catalog's revision, and each model's configured state and effective availability with its reason.
/// </summary>
internal sealed record ModelAdminView(Organisation Organisation, Account? Account, bool OwnProfile, long CatalogRevision, ModelAvailabilityPolicy Policy, ModelListing Listing)
{
    /// <summary>The view as the admin API answers it.</summary>
    public byte[] ToJson() => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("organisation", Organisation.Slug);
        if (Account is null)
        {
            w.WriteNull("account");
        }
        else
        {
            w.WriteString("account", Account.Slug);
        }

        w.WriteString("profile", OwnProfile ? "account" : "organisation");
        w.WriteNumber("catalogRevision", CatalogRevision);
        w.WriteBoolean("controlEnabled", Policy.ControlEnabled);
        ModelListingJson.WriteDefault(w, Listing);
        ModelListingJson.WriteModels(w, "models", Listing, all: true, configured: Policy);
        w.WriteEndObject();
    });
}

/// <summary>A profile's model policy as it is shown: whose it is (the organisation's, or an account's own) and what it says.</summary>
internal sealed record ModelPolicyView(Organisation Organisation, Account? Account, ProfileModelPolicy Profile)
{
    /// <summary>The view as the admin API answers it: scope, control, the policy's fields and the profile's revision.</summary>
    public byte[] ToJson() => ModelsAdminApi.PolicyView(Organisation, Account, Profile);
}

/// <summary>
/// A profile's model availability policy and the admin view of the models under it, for the admin API
/// (<see cref="ModelsAdminApi"/>) and the console alike: a write is validated against the catalog (422 naming every field),
/// audited under the profile's subject with before and after in its transaction, and raises the profile's revision. The
/// caller was authorised by whoever calls: the API's admin filter, or the console's session gate.
/// </summary>
internal static class ModelPolicyOperations
{
    /// <summary>Every catalog model under the organisation's profile (<paramref name="accountSlug"/> null), or under the account's when it has one; 404 for an unknown account.</summary>
    public static async Task<Outcome<ModelAdminView>> AdminViewAsync(Database database, ModelCatalogStore catalogs, Organisation organisation, string? accountSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(catalogs);
        ArgumentNullException.ThrowIfNull(organisation);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var (account, accountNotFound) = await ProfilesApi.ScopeAccountAsync(connection, null, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
        if (accountNotFound is not null)
        {
            return Outcome<ModelAdminView>.Refused(Problems.BodyOf(accountNotFound));
        }

        var accountProfile = account is null ? null : await ModelAccess.ProfilePolicyAsync(connection, null, organisation.Id, account.Id, cancellationToken).ConfigureAwait(false);
        var profile = accountProfile ?? await ModelAccess.ProfilePolicyAsync(connection, null, organisation.Id, null, cancellationToken).ConfigureAwait(false);
        var policy = profile?.Policy ?? ModelAvailabilityPolicy.Uncontrolled;
        var catalog = await catalogs.GetAsync(connection, null, cancellationToken).ConfigureAwait(false);
        var listing = new ModelEvaluator(catalog.Catalog, new EffectiveModelPolicy(policy, [])).List();
        return Outcome<ModelAdminView>.Done(new ModelAdminView(organisation, account, accountProfile is not null, catalog.Revision, policy, listing));
    }

    /// <summary>The model policy of the organisation's profile (<paramref name="accountSlug"/> null) or the account's own; 404 naming what is missing.</summary>
    public static async Task<Outcome<ModelPolicyView>> GetPolicyAsync(Database database, Organisation organisation, string? accountSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(organisation);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var (account, accountNotFound) = await ProfilesApi.ScopeAccountAsync(connection, null, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
        if (accountNotFound is not null)
        {
            return Outcome<ModelPolicyView>.Refused(Problems.BodyOf(accountNotFound));
        }

        var profile = await ModelAccess.ProfilePolicyAsync(connection, null, organisation.Id, account?.Id, cancellationToken).ConfigureAwait(false);
        return profile is null
            ? Outcome<ModelPolicyView>.Refused(ModelsAdminApi.NoProfileProblem(organisation, account))
            : Outcome<ModelPolicyView>.Done(new ModelPolicyView(organisation, account, profile));
    }

    /// <summary>
    /// Replaces the profile's model policy (a field left out takes its default: control off, no states, no default, new
    /// models wait for approval, no residency rule). With control on, a model the change leaves out is disabled. The default
    /// must be available under the new policy. The same policy again changes and audits nothing.
    /// </summary>
    public static async Task<Outcome<ModelPolicyView>> UpdatePolicyAsync(Database database, ModelCatalogStore catalogs, Caller caller, Organisation organisation, string? accountSlug,
        ModelPolicyChange change, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(catalogs);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(change);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var catalog = (await catalogs.GetAsync(connection, null, cancellationToken).ConfigureAwait(false)).Catalog;
        var check = new BodyCheck(default);
        var policy = ModelPolicyJson.Read(change.Fields, change.ControlEnabled, catalog, check);
        if (check.Count == 0 && policy.DefaultModel is { } defaultModel)
        {
            var availability = new ModelEvaluator(catalog, new EffectiveModelPolicy(policy, [])).Availability(catalog.Find(defaultModel)!);
            if (!availability.Available)
            {
                check.Add("defaultModel", $"the default model must be enabled and available under this policy; \"{defaultModel}\" is not ({availability.Reason})",
                    BodyCheck.Json(defaultModel));
            }
        }

        if (check.Problem() is { } problem)
        {
            return Outcome<ModelPolicyView>.Refused(problem);
        }

        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var (account, accountNotFound) = await ProfilesApi.ScopeAccountAsync(connection, transaction, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
        if (accountNotFound is not null)
        {
            return Outcome<ModelPolicyView>.Refused(Problems.BodyOf(accountNotFound));
        }

        var before = await ModelAccess.ProfilePolicyAsync(connection, transaction, organisation.Id, account?.Id, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return Outcome<ModelPolicyView>.Refused(ModelsAdminApi.NoProfileProblem(organisation, account));
        }

        var stored = ModelPolicyJson.Stored(policy);
        if (before.Policy.ControlEnabled == change.ControlEnabled && ModelPolicyJson.Stored(before.Policy) == stored)
        {
            return Outcome<ModelPolicyView>.Done(new ModelPolicyView(organisation, account, before));
        }

        var after = before with { Policy = policy, Revision = before.Revision + 1 };
        var at = Timestamps.ToText(now);
        await connection.ExecuteAsync("UPDATE profiles SET model_control_enabled = @control, revision = @revision, updated_at = @at WHERE id = @id", transaction, cancellationToken,
            ("control", change.ControlEnabled), ("revision", after.Revision), ("at", at), ("id", before.ProfileId)).ConfigureAwait(false);
        var updated = await connection.ExecuteAsync("UPDATE model_policies SET policy_json = @json, updated_at = @at WHERE profile_id = @id", transaction, cancellationToken,
            ("json", stored), ("at", at), ("id", before.ProfileId)).ConfigureAwait(false);
        if (updated == 0)
        {
            await connection.ExecuteAsync("INSERT INTO model_policies (profile_id, policy_json, updated_at) VALUES (@id, @json, @at)", transaction, cancellationToken,
                ("id", before.ProfileId), ("json", stored), ("at", at)).ConfigureAwait(false);
        }

        // Audited under the profile's own subject: the model policy is part of the profile, and its revisions are the profile's.
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "profile.models.update", ModelsAdminApi.ProfileSubject(account),
            ModelsAdminApi.AuditView(before), ModelsAdminApi.AuditView(after), after.Revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Outcome<ModelPolicyView>.Done(new ModelPolicyView(organisation, account, after));
    }
}
