using System.Globalization;

namespace Steward.Server.Exports;

/// <summary>
/// <c>GET /api/v1/orgs/{org}/exports/{format}[?account=slug]</c> (admin or developer of the organisation) and its
/// <c>/report</c>; the Kiro file also unauthenticated at <c>/o/{org}/kiro/registry.json</c> and
/// <c>/o/{org}/a/{account}/kiro/registry.json</c>, since Kiro fetches its registry URL without credentials (as hosts read
/// the Registry API). Every document has a strong ETag; <c>Steward-Export-Skipped</c> counts the entries left out.
/// What each builds is <see cref="ExportOperations"/>, which the console calls too; this is its HTTP face.
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
        var built = await BuildAsync(context, database, Authentication.OrganisationOf(context), context.Request.Query["account"].ToString(),
            context.GetRouteValue("format") as string ?? "", cancellationToken).ConfigureAwait(false);
        if (!built.Ok)
        {
            return Problems.Of(built.Problem);
        }

        context.Response.Headers[SkippedHeader] = built.Value.Result.Skipped.Count.ToString(CultureInfo.InvariantCulture);
        return ETags.Json(context, built.Value.Result.Document);
    }

    internal static async Task<IResult> ReportAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var built = await BuildAsync(context, database, Authentication.OrganisationOf(context), context.Request.Query["account"].ToString(),
            context.GetRouteValue("format") as string ?? "", cancellationToken).ConfigureAwait(false);
        return built.Ok ? ETags.Json(context, built.Value.ReportJson()) : Problems.Of(built.Problem);
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

        var built = await BuildAsync(context, database, organisation, accountSlug, ExportFormats.Kiro, cancellationToken).ConfigureAwait(false);
        if (!built.Ok)
        {
            return Problems.Of(built.Problem);
        }

        context.Response.Headers[SkippedHeader] = built.Value.Result.Skipped.Count.ToString(CultureInfo.InvariantCulture);
        return ETags.Json(context, built.Value.Result.Document);
    }

    /// <summary>The same answer for a bare slug, a wrong key and an account that does not exist.</summary>
    internal static IResult AccountUrlNotFound() =>
        Problems.Result(StatusCodes.Status404NotFound, "Not Found",
            "there is no registry at this address; an account's URLs are shown on the console's Exports page and by GET /api/v1/orgs/{org}/accounts");

    /// <summary>
    /// The export <paramref name="format"/> names, with <c>?mode=gateway|direct</c> (default gateway; Kiro's registry file
    /// has only the direct mode) and, in gateway mode, <c>?command=</c> the program hosts start (<see cref="ExportRequest.Read"/>).
    /// </summary>
    private static async Task<Outcome<BuiltExport>> BuildAsync(HttpContext context, Database database, Organisation organisation, string accountSlug, string format,
        CancellationToken cancellationToken)
    {
        var request = ExportRequest.Read(format, context.Request.Query["mode"].ToString(), context.Request.Query["command"].ToString());
        return request.Ok
            ? await ExportOperations.BuildAsync(database, organisation, accountSlug, request.Value, cancellationToken).ConfigureAwait(false)
            : Outcome<BuiltExport>.Refused(request.Problem);
    }
}
