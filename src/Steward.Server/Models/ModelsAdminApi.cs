using System.Text;
using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>
/// The model admin API. Installation-wide (an admin of the first organisation): the catalog. Per organisation (its
/// admins): the availability policy of the organisation's and each account's profile, the group rules, and the admin view
/// of every model with its effective state. Every change is validated (422 naming every field), audited with before and
/// after in its transaction, and raises the profile's revision. The admin view and the policy are
/// <see cref="ModelPolicyOperations"/>, which the console calls too; these endpoints are their HTTP face.
/// </summary>
internal static class ModelsAdminApi
{
    public const int MaxCatalogBytes = RequestBodies.MaxBytes;
    public const int MaxPolicyBytes = 256 * 1024;

    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisation)
    {
        app.MapGet("/api/v1/models/catalog", GetCatalogAsync);
        app.MapPost("/api/v1/models/catalog", ImportCatalogAsync);
        organisation.MapGet("/models", AdminViewAsync);
        organisation.MapGet("/models/policy", GetPolicyAsync);
        organisation.MapPut("/models/policy", PutPolicyAsync);
        organisation.MapGet("/accounts/{account}/models/policy", GetPolicyAsync);
        organisation.MapPut("/accounts/{account}/models/policy", PutPolicyAsync);
        organisation.MapGet("/models/groups", GetGroupsAsync);
        organisation.MapPut("/models/groups", PutGroupsAsync);
    }

    /// <summary>An admin of the first organisation, or the answer to give (401, or 403 for anyone else).</summary>
    internal static async Task<(Caller? Caller, Organisation? First, IResult? Refusal)> InstallationAdminAsync(HttpContext context, Database database, TimeProvider time, string what, CancellationToken cancellationToken)
    {
        var caller = await Authentication.AuthenticateAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (caller is null)
        {
            return (null, null, Authentication.Unauthorized(context));
        }

        var first = await Organisation.FirstAsync(database, cancellationToken).ConfigureAwait(false);
        if (caller.Role != Roles.Admin || first is null || first.Id != caller.OrganisationId)
        {
            return (null, null, Problems.Result(StatusCodes.Status403Forbidden, "Forbidden", $"{what} needs an admin token of the first organisation"));
        }

        return (caller, first, null);
    }

    /// <summary><c>GET /api/v1/models/catalog</c>: the catalog as imported (any valid token), with its revision and source in headers.</summary>
    internal static async Task<IResult> GetCatalogAsync(HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, CancellationToken cancellationToken)
    {
        if (await Authentication.AuthenticateAsync(context, database, time, cancellationToken).ConfigureAwait(false) is null)
        {
            return Authentication.Unauthorized(context);
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var stored = await catalogs.GetAsync(connection, null, cancellationToken).ConfigureAwait(false);
        context.Response.Headers["Steward-Catalog-Revision"] = stored.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.Headers["Steward-Catalog-Source"] = stored.Source;
        return ETags.Json(context, stored.Json);
    }

    /// <summary>
    /// <c>POST /api/v1/models/catalog</c>: replaces the catalog whole. The body is read by the catalog reader; any error is
    /// a 422 listing every problem with its path, and the previous catalog stays in force.
    /// </summary>
    internal static async Task<IResult> ImportCatalogAsync(HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, CancellationToken cancellationToken)
    {
        var (caller, first, refusal) = await InstallationAdminAsync(context, database, time, "importing the model catalog", cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        var body = await RequestBodies.ReadAsync(context.Request, MaxCatalogBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(MaxCatalogBytes);
        }

        if (RequestJson.CheckText(body) is { } notUnicode)
        {
            return RequestJson.Refused(notUnicode);
        }

        var read = ModelCatalogReader.Read(body);
        if (!read.IsValid)
        {
            var items = new List<ProblemItem>();
            if (read.Failure is { } failure)
            {
                items.Add(new ProblemItem { Path = "", Message = failure.ToString() });
            }

            items.AddRange(read.Problems.Where(p => p.IsError).Select(p => new ProblemItem
            {
                Path = p.Path,
                Rule = p.Rule,
                Severity = "error",
                Message = p.Message,
                Hint = p.Hint,
            }));
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity",
                $"the catalog has {items.Count} error{(items.Count == 1 ? "" : "s")}; nothing was changed", items);
        }

        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, first!.Id, cancellationToken).ConfigureAwait(false);
        var previous = await connection.QueryAsync("SELECT catalog_json, revision FROM model_catalog WHERE id = 1", transaction,
            r => (Json: r.GetString(0), Revision: r.Int64(1)), cancellationToken).ConfigureAwait(false);
        var revision = previous.Count == 1 ? previous[0].Revision + 1 : 1;
        var json = Encoding.UTF8.GetString(body);
        if (previous.Count == 1)
        {
            await connection.ExecuteAsync("UPDATE model_catalog SET catalog_json = @json, revision = @revision, source = @source, updated_at = @at WHERE id = 1", transaction, cancellationToken,
                ("json", json), ("revision", revision), ("source", ModelCatalogStore.ImportSource), ("at", Timestamps.ToText(now))).ConfigureAwait(false);
        }
        else
        {
            await connection.ExecuteAsync("INSERT INTO model_catalog (id, catalog_json, revision, source, updated_at) VALUES (1, @json, @revision, @source, @at)", transaction, cancellationToken,
                ("json", json), ("revision", revision), ("source", ModelCatalogStore.ImportSource), ("at", Timestamps.ToText(now))).ConfigureAwait(false);
        }

        var before = previous.Count == 1 ? CatalogAudit(ModelCatalogReader.Read(Encoding.UTF8.GetBytes(previous[0].Json)).Catalog, Encoding.UTF8.GetBytes(previous[0].Json), previous[0].Revision) : null;
        var after = CatalogAudit(read.Catalog, body, revision);
        await AuditLog.WriteAsync(connection, transaction, first.Id, now, caller!.Actor, "model-catalog.import", "model-catalog", before, after, revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("revision", revision);
            w.WriteNumber("models", read.Catalog!.Models.Count);
            w.WriteNumber("warnings", read.Problems.Count(p => !p.IsError));
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    /// <summary>The audit's view of a catalog: its revision, digest and model ids with their status (not the whole document).</summary>
    private static string CatalogAudit(ModelCatalog? catalog, byte[] json, long revision) => Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("revision", revision);
        w.WriteString("sha256", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(json)));
        w.WriteStartObject("models");
        foreach (var model in catalog?.Models ?? [])
        {
            w.WriteString(model.Id, ModelExplainer.StatusName(model.Status));
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }));

    /// <summary>
    /// <c>GET /api/v1/orgs/{org}/models[?account=slug]</c>: every catalog model with its status, scope, configured state and
    /// effective availability with its reason, under the organisation's profile (or the account's, when it has one).
    /// </summary>
    internal static async Task<IResult> AdminViewAsync(HttpContext context, Database database, ModelCatalogStore catalogs, CancellationToken cancellationToken)
    {
        var accountSlug = context.Request.Query["account"].ToString() is { Length: > 0 } s ? s : null;
        var view = await ModelPolicyOperations.AdminViewAsync(database, catalogs, Authentication.OrganisationOf(context), accountSlug, cancellationToken).ConfigureAwait(false);
        return view.ToResult(v => v.ToJson());
    }

    internal static async Task<IResult> GetPolicyAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var view = await ModelPolicyOperations.GetPolicyAsync(database, Authentication.OrganisationOf(context), context.GetRouteValue("account") as string, cancellationToken)
            .ConfigureAwait(false);
        return view.ToResult(v => v.ToJson());
    }

    /// <summary>
    /// <c>PUT …/models/policy</c> replaces the profile's model policy (<see cref="ModelPolicyOperations.UpdatePolicyAsync"/>):
    /// a field left out takes its default: control off, no states, no default, new models wait for approval, no residency
    /// rule. With control on, a model the body leaves out is disabled. The default must be available under the new policy.
    /// </summary>
    internal static async Task<IResult> PutPolicyAsync(HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, CancellationToken cancellationToken)
    {
        var change = await RequestRecord.ReadAsync(context.Request, MaxPolicyBytes, ServerJsonContext.Default.ModelPolicyBody, (body, check) => body.Validate(check), cancellationToken)
            .ConfigureAwait(false);
        if (!change.Ok)
        {
            return Problems.Of(change.Problem);
        }

        var view = await ModelPolicyOperations.UpdatePolicyAsync(database, catalogs, Authentication.CallerOf(context), Authentication.OrganisationOf(context),
            context.GetRouteValue("account") as string, change.Value, time, cancellationToken).ConfigureAwait(false);
        return view.ToResult(v => v.ToJson());
    }

    internal static async Task<IResult> GetGroupsAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rules = await ModelAccess.GroupRulesAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false);
        return new JsonBytes(ResponseJson.Write(w => ModelPolicyJson.WriteGroups(w, rules)), StatusCodes.Status200OK);
    }

    /// <summary><c>PUT …/models/groups</c> with <c>{"rules": [...]}</c>: replaces the organisation's group rules (groups only narrow; deny wins).</summary>
    internal static async Task<IResult> PutGroupsAsync(HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, CancellationToken cancellationToken)
    {
        var body = await RequestBodies.ReadAsync(context.Request, MaxPolicyBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(MaxPolicyBytes);
        }

        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var catalog = (await catalogs.GetAsync(connection, null, cancellationToken).ConfigureAwait(false)).Catalog;
        var read = RequestRecord.Parse(body, ServerJsonContext.Default.ModelGroupsBody, (groups, check) => groups.Validate(check, catalog));
        if (!read.Ok)
        {
            return Problems.Of(read.Problem);
        }

        var rules = read.Value;

        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var profile = await ModelAccess.ProfilePolicyAsync(connection, transaction, organisation.Id, null, cancellationToken).ConfigureAwait(false);
        if (profile is null)
        {
            return NoProfile(organisation, null);
        }

        var before = await ModelAccess.GroupRulesAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
        var beforeJson = ModelPolicyJson.StoredGroups(before);
        var afterJson = ModelPolicyJson.StoredGroups(rules);
        if (beforeJson != afterJson)
        {
            var at = Timestamps.ToText(now);
            var revision = profile.Revision + 1;
            await connection.ExecuteAsync("UPDATE profiles SET revision = @revision, updated_at = @at WHERE id = @id", transaction, cancellationToken,
                ("revision", revision), ("at", at), ("id", profile.ProfileId)).ConfigureAwait(false);
            var updated = await connection.ExecuteAsync("UPDATE model_group_rules SET rules_json = @json, updated_at = @at WHERE organisation_id = @org", transaction, cancellationToken,
                ("json", afterJson), ("at", at), ("org", organisation.Id)).ConfigureAwait(false);
            if (updated == 0)
            {
                await connection.ExecuteAsync("INSERT INTO model_group_rules (organisation_id, rules_json, updated_at) VALUES (@org, @json, @at)", transaction, cancellationToken,
                    ("org", organisation.Id), ("json", afterJson), ("at", at)).ConfigureAwait(false);
            }

            await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "profile.model-groups.update", ProfileSubject(null),
                beforeJson, afterJson, revision, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return new JsonBytes(Encoding.UTF8.GetBytes(afterJson), StatusCodes.Status200OK);
    }

    internal static string ProfileSubject(Account? account) => account is null ? "profile:organisation" : "profile:account/" + account.Slug;

    private static IResult NoProfile(Organisation organisation, Account? account) => Problems.Of(NoProfileProblem(organisation, account));

    /// <summary>404: the organisation has no profile, or the account none of its own (naming how to give it one).</summary>
    internal static ProblemBody NoProfileProblem(Organisation organisation, Account? account) => account is null
        ? Problems.Body(StatusCodes.Status404NotFound, "Not Found", "the organisation has no profile")
        : Problems.Body(StatusCodes.Status404NotFound, "Not Found",
            $"the account \"{account.Slug}\" has no profile of its own (the organisation's applies to it); create it first with PUT /api/v1/orgs/{organisation.Slug}/accounts/{account.Slug}/profile");

    internal static string AuditView(ProfileModelPolicy profile) => Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteBoolean("controlEnabled", profile.Policy.ControlEnabled);
        ModelPolicyJson.WriteFields(w, profile.Policy);
        w.WriteNumber("revision", profile.Revision);
        w.WriteEndObject();
    }));

    internal static byte[] PolicyView(Organisation organisation, Account? account, ProfileModelPolicy profile) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        ProfilesApi.WriteScope(w, organisation, account);

        w.WriteBoolean("controlEnabled", profile.Policy.ControlEnabled);
        ModelPolicyJson.WriteFields(w, profile.Policy);
        w.WriteNumber("revision", profile.Revision);
        w.WriteEndObject();
    });
}
