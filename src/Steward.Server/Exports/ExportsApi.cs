using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Core.Json;
using Steward.Core.Registry;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Identity;
using Steward.Server.Organisations;
using Steward.Server.Policy;
using Steward.Server.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Exports;

/// <summary>
/// <c>GET /api/v1/orgs/{org}/exports/{format}[?account=slug]</c> (admin or developer of the organisation) and its
/// <c>/report</c>; the Kiro file also unauthenticated at <c>/o/{org}/kiro/registry.json</c> and
/// <c>/o/{org}/a/{account}/kiro/registry.json</c>, since Kiro fetches its registry URL without credentials (as hosts read
/// the Registry API). Every document has a strong ETag; <c>Steward-Export-Skipped</c> counts the entries left out.
/// </summary>
internal static class ExportsApi
{
    public const string SkippedHeader = "Steward-Export-Skipped";

    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder exports)
    {
        exports.MapGet("/{format}", DocumentAsync);
        exports.MapGet("/{format}/report", ReportAsync);
        app.MapGet("/o/{org}/kiro/registry.json", PublicKiroAsync);
        app.MapGet("/o/{org}/a/{account}/kiro/registry.json", PublicKiroAsync);
    }

    internal static async Task<IResult> DocumentAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var built = await BuildAsync(context, database, Authentication.OrganisationOf(context), context.Request.Query["account"].ToString(), cancellationToken).ConfigureAwait(false);
        if (built.Problem is { } problem)
        {
            return problem;
        }

        context.Response.Headers[SkippedHeader] = built.Result!.Skipped.Count.ToString(CultureInfo.InvariantCulture);
        return ETags.Json(context, built.Result.Document);
    }

    internal static async Task<IResult> ReportAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        var account = context.Request.Query["account"].ToString();
        var built = await BuildAsync(context, database, organisation, account, cancellationToken).ConfigureAwait(false);
        if (built.Problem is { } problem)
        {
            return problem;
        }

        var result = built.Result!;
        var body = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("format", built.Format);
            w.WriteString("organisation", organisation.Slug);
            if (account.Length > 0)
            {
                w.WriteString("account", account);
            }
            else
            {
                w.WriteNull("account");
            }

            w.WriteString("revision", built.Revision);
            if (built.Options is { } options)
            {
                w.WriteString("mode", options.Mode);
                if (options.IsGateway)
                {
                    w.WriteString("command", options.Command);
                }
            }

            w.WriteNumber("exported", result.Exported);
            w.WriteStartArray("skipped");
            foreach (var entry in result.Skipped)
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
            foreach (var note in result.Notes)
            {
                w.WriteStringValue(note);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
        return ETags.Json(context, body);
    }

    /// <summary>
    /// The Kiro file without a token, for Kiro clients; 404 for an unknown organisation, and one 404 for an account URL
    /// that is not the account's keyed one (<see cref="AccountUrls"/>), whether or not the account exists.
    /// </summary>
    internal static async Task<IResult> PublicKiroAsync(HttpContext context, Database database, SecretBox box, CancellationToken cancellationToken)
    {
        var slug = context.GetRouteValue("org") as string ?? "";
        var organisation = await Organisation.FindAsync(database, slug, cancellationToken).ConfigureAwait(false);
        if (organisation is null)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Organisation not found", $"there is no registry for \"{slug}\"");
        }

        var accountSlug = "";
        if (context.GetRouteValue("account") is string segment)
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (await AccountUrls.ResolveAsync(connection, box, organisation.Id, segment, cancellationToken).ConfigureAwait(false) is not { } account)
            {
                return AccountUrlNotFound();
            }

            accountSlug = account.Slug;
        }

        var built = await BuildAsync(context, database, organisation, accountSlug, cancellationToken, ExportFormats.Kiro).ConfigureAwait(false);
        if (built.Problem is { } problem)
        {
            return problem;
        }

        context.Response.Headers[SkippedHeader] = built.Result!.Skipped.Count.ToString(CultureInfo.InvariantCulture);
        return ETags.Json(context, built.Result.Document);
    }

    /// <summary>The same answer for a bare slug, a wrong key and an account that does not exist.</summary>
    internal static IResult AccountUrlNotFound() =>
        Problems.Result(StatusCodes.Status404NotFound, "Not Found",
            "there is no registry at this address; an account's URLs are shown on the console's Exports page and by GET /api/v1/orgs/{org}/accounts");

    private sealed record Built(string Format, string Revision, ExportResult? Result, IResult? Problem, ExportOptions? Options = null);

    /// <summary>
    /// <c>?mode=gateway|direct</c> (default gateway; Kiro's registry file has only the direct mode) and, in gateway mode,
    /// <c>?command=</c> the program hosts start (default <c>steward</c> on PATH, else an absolute path).
    /// </summary>
    internal static (ExportOptions? Options, IResult? Problem) OptionsOf(HttpContext context, string format)
    {
        var mode = context.Request.Query["mode"].ToString();
        var command = context.Request.Query["command"].ToString();
        if (mode.Length == 0)
        {
            mode = ExportFormats.HasGatewayMode(format) ? ExportModes.Gateway : ExportModes.Direct;
        }

        if (mode is not (ExportModes.Gateway or ExportModes.Direct))
        {
            return (null, Problems.Result(StatusCodes.Status400BadRequest, "Unknown export mode",
                $"mode: \"{mode}\" is not a mode; give gateway (servers started as `steward gateway --server <name>`) or direct (the upstream's own command or URL)"));
        }

        if (mode == ExportModes.Gateway && !ExportFormats.HasGatewayMode(format))
        {
            return (null, Problems.Result(StatusCodes.Status400BadRequest, "No gateway mode for this format",
                $"mode: the {format} file lists packages, not commands, so it has only the direct mode; leave mode out or give mode=direct"));
        }

        if (command.Length > 0 && mode != ExportModes.Gateway)
        {
            return (null, Problems.Result(StatusCodes.Status400BadRequest, "command needs the gateway mode",
                "command: the gateway's command is used only with mode=gateway; leave command out or give mode=gateway"));
        }

        if (command.Length == 0)
        {
            command = ExportModes.DefaultCommand;
        }
        else if (ExportModes.CommandProblem(command) is { } problem)
        {
            return (null, Problems.Result(StatusCodes.Status400BadRequest, "Bad gateway command", problem));
        }

        return (new ExportOptions(mode, command), null);
    }

    private static async Task<Built> BuildAsync(HttpContext context, Database database, Organisation organisation, string accountSlug, CancellationToken cancellationToken, string? format = null)
    {
        format ??= context.GetRouteValue("format") as string ?? "";
        if (!ExportFormats.All.Contains(format, StringComparer.Ordinal))
        {
            return new Built(format, "", null, Problems.Result(StatusCodes.Status404NotFound, "Not Found",
                $"there is no export \"{format}\"; the formats are {string.Join(", ", ExportFormats.All)}"));
        }

        var (options, optionsProblem) = OptionsOf(context, format);
        if (optionsProblem is not null)
        {
            return new Built(format, "", null, optionsProblem);
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        Account? account = null;
        if (accountSlug.Length > 0)
        {
            account = await Profiles.FindAccountAsync(connection, null, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
            if (account is null)
            {
                return new Built(format, "", null, ProfilesApi.AccountNotFound(accountSlug));
            }
        }

        var effective = await Profiles.EffectiveAsync(connection, organisation, account, cancellationToken).ConfigureAwait(false);
        var source = RegistrySource.Of(effective);
        if (source.IsExternal && await ExternalRegistries.FindAsync(connection, null, effective.Profile.Id, cancellationToken).ConfigureAwait(false) is not { FetchedAt: not null })
        {
            return new Built(format, effective.Revision, null, Problems.Result(StatusCodes.Status409Conflict, "External registry not fetched yet",
                $"this profile's registry is external ({effective.Settings.RegistryUrl}) and this server has no good copy of it yet; see its state with GET /api/v1/orgs/{{org}}/profile/registry-sync, fetch it with POST"));
        }

        var admitted = (await AdmittedEntries.LoadAsync(connection, source, cancellationToken).ConfigureAwait(false)).Select(Read).ToList();
        var revoked = (await AdmittedEntries.LoadRevokedAsync(connection, source, cancellationToken).ConfigureAwait(false)).Select(Read).ToList();
        return new Built(format, effective.Revision, Exporters.Build(format, admitted, revoked, effective.Settings, options), null, options);
    }

    private static ServerDetail Read(StoredEntry entry) =>
        JsonSerializer.Deserialize(entry.ServerJson, CoreJsonContext.Default.ServerDetail)
            ?? throw new InvalidOperationException($"the stored server.json of {entry.Name}@{entry.Version} is null");
}
