namespace Steward.Server.Identity;

/// <summary>
/// The server's administrators: admins of its first organisation (the one made on first start). Only they act on the
/// server as a whole: making organisations, reading every organisation's audit, rotating the signing key.
/// </summary>
internal static class ServerAdministrator
{
    /// <summary>The caller when it is a server administrator; otherwise the refusal: 401 without a valid token, else 403 naming what <paramref name="action"/> needs.</summary>
    public static async Task<(Caller? Administrator, IResult? Refusal)> CheckAsync(HttpContext context, Database database, TimeProvider time, string action, CancellationToken cancellationToken)
    {
        var caller = await Authentication.AuthenticateAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (caller is null)
        {
            return (null, Authentication.Unauthorized(context));
        }

        var first = await Organisation.FirstAsync(database, cancellationToken).ConfigureAwait(false);
        if (caller.Role != Roles.Admin || first is null || first.Id != caller.OrganisationId)
        {
            return (null, Problems.Result(StatusCodes.Status403Forbidden, "Forbidden", $"{action} needs an admin token of the server's first organisation{(first is null ? "" : $" (\"{first.Slug}\")")}"));
        }

        return (caller, null);
    }
}
