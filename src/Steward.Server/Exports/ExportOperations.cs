using Steward.Server.Policy;
using Steward.Server.Registry;

namespace Steward.Server.Exports;

/// <summary>An export as built for an organisation (or one of its accounts, <see cref="Account"/> non-empty): its request, the revision it was built from and what it holds.</summary>
internal sealed record BuiltExport(ExportRequest Request, Organisation Organisation, string Account, string Revision, ExportResult Result)
{
    /// <summary>The export's report as the admin API answers it: what it holds, what it skipped and why, its notes.</summary>
    public byte[] ReportJson() => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("format", Request.Format);
        w.WriteString("organisation", Organisation.Slug);
        if (Account.Length > 0)
        {
            w.WriteString("account", Account);
        }
        else
        {
            w.WriteNull("account");
        }

        w.WriteString("revision", Revision);
        w.WriteString("mode", Request.Options.Mode);
        if (Request.Options.IsGateway)
        {
            w.WriteString("command", Request.Options.Command);
        }

        w.WriteNumber("exported", Result.Exported);
        w.WriteStartArray("skipped");
        foreach (var entry in Result.Skipped)
        {
            w.WriteStartObject();
            w.WriteString("name", entry.Name);
            w.WriteString("version", entry.Version);
            w.WriteStartArray("reasons");
            foreach (var reason in entry.Reasons)
            {
                w.WriteStringValue(reason);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("notes");
        foreach (var note in Result.Notes)
        {
            w.WriteStringValue(note);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });
}

/// <summary>
/// Building an export of what a profile admits, for the admin API (<see cref="ExportsApi"/>), the public Kiro file and the
/// console alike. The caller was authorised by whoever calls: the API's organisation filter, the account URL's key, or
/// the console's session gate.
/// </summary>
internal static class ExportOperations
{
    /// <summary>
    /// The export of the organisation's profile (<paramref name="accountSlug"/> empty) or the account's; 404 for an
    /// unknown account, 409 when the profile's registry is external and no good copy of it has been fetched yet.
    /// </summary>
    public static async Task<Outcome<BuiltExport>> BuildAsync(Database database, Organisation organisation, string accountSlug, ExportRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(accountSlug);
        ArgumentNullException.ThrowIfNull(request);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        Account? account = null;
        if (accountSlug.Length > 0)
        {
            account = await Profiles.FindAccountAsync(connection, null, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
            if (account is null)
            {
                return Outcome<BuiltExport>.Refused(Problems.BodyOf(ProfilesApi.AccountNotFound(accountSlug)));
            }
        }

        var effective = await Profiles.EffectiveAsync(connection, organisation, account, cancellationToken).ConfigureAwait(false);
        var source = RegistrySource.Of(effective);
        if (source.IsExternal && await ExternalRegistries.FindAsync(connection, null, effective.Profile.Id, cancellationToken).ConfigureAwait(false) is not { FetchedAt: not null })
        {
            return Outcome<BuiltExport>.Refused(Problems.Body(StatusCodes.Status409Conflict, "External registry not fetched yet",
                $"this profile's registry is external ({effective.Settings.RegistryUrl}) and this server has no good copy of it yet; see its state with GET /api/v1/orgs/{{org}}/profile/registry-sync, fetch it with POST"));
        }

        var admitted = (await AdmittedEntries.LoadAsync(connection, source, cancellationToken).ConfigureAwait(false)).Select(e => e.Server()).ToList();
        var revoked = (await AdmittedEntries.LoadRevokedAsync(connection, source, cancellationToken).ConfigureAwait(false)).Select(e => e.Server()).ToList();
        var result = Exporters.Build(request.Format, admitted, revoked, effective.Settings, request.Options);
        return Outcome<BuiltExport>.Done(new BuiltExport(request, organisation, accountSlug, effective.Revision, result));
    }
}
