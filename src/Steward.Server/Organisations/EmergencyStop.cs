using Steward.Server.Registry;

namespace Steward.Server.Organisations;

/// <summary>An organisation's emergency stop in force: why (the admin's words, shown to every developer), since when, by whom.</summary>
public sealed record EmergencyStop(string Reason, string Since, string By);

/// <summary>The body of <c>PUT …/emergency-stop</c>: <c>{"reason": "…"}</c>, read by <see cref="RequestRecord"/>.</summary>
internal sealed record EmergencyStopRequest(string? Reason)
{
    /// <summary>The request with its reason trimmed, or null with the problem added to <paramref name="check"/>.</summary>
    public EmergencyStopRequest? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        if (Reason?.Trim() is { Length: > 0 and <= EmergencyStops.MaxReasonLength } reason && !reason.Any(char.IsControl))
        {
            return new EmergencyStopRequest(reason);
        }

        if (!check.Reported("reason"))
        {
            check.Add("reason", $"required: what developers are told, 1 to {EmergencyStops.MaxReasonLength} characters on one line (for example \"incident INC-42: MCP is stopped while we investigate\")",
                check.Given("reason") ? BodyCheck.Json(Reason) ?? "null" : null);
        }

        return null;
    }
}

/// <summary>The emergency stop as the API answers it: <c>stopped</c>, and while it is, its reason, since when and by whom.</summary>
internal sealed record EmergencyStopView(bool Stopped, string? Reason, string? Since, string? By)
{
    public static EmergencyStopView Of(EmergencyStop? stop) => new(stop is not null, stop?.Reason, stop?.Since, stop?.By);
}

/// <summary>
/// The organisation-wide emergency stop (<c>/api/v1/orgs/{org}/emergency-stop</c>, and the console's Settings page): one
/// switch that turns MCP off for every account of the organisation whatever its own profile says, until it is lifted.
/// Engaging and lifting are audited and raise the organisation profile's revision, so every bundle and export changes and
/// the change channels announce it at once (<see cref="EmergencyStopOperations"/>, which the console calls too; this is
/// its HTTP face). See docs/profiles-and-tokens.md "Emergency stop".
/// </summary>
internal static class EmergencyStops
{
    public const int MaxReasonLength = 500;
    public const string Subject = "emergency-stop";
    private const int MaxBodyBytes = 4 * 1024;

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapGet("/emergency-stop", GetAsync);
        organisation.MapPut("/emergency-stop", EngageAsync);
        organisation.MapDelete("/emergency-stop", LiftAsync);
    }

    public static async Task<EmergencyStop?> FindAsync(DbConnection connection, DbTransaction? transaction, string organisationId, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync("SELECT reason, stopped_at, stopped_by FROM emergency_stops WHERE organisation_id = @org", transaction,
            r => new EmergencyStop(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken, ("org", organisationId)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    internal static async Task<IResult> GetAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(View(await FindAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false)), StatusCodes.Status200OK);
    }

    /// <summary><c>PUT</c> <c>{"reason": "…"}</c>: engages the stop (or replaces the reason of the one in force).</summary>
    internal static async Task<IResult> EngageAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var request = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.EmergencyStopRequest,
            (body, check) => body.Validate(check), cancellationToken).ConfigureAwait(false);
        if (!request.Ok)
        {
            return Problems.Of(request.Problem);
        }

        var stop = await EmergencyStopOperations.EngageAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), request.Value.Reason!, time, cancellationToken)
            .ConfigureAwait(false);
        return new JsonBytes(View(stop), StatusCodes.Status200OK);
    }

    /// <summary><c>DELETE</c>: lifts the stop; each account's own profile applies again. Lifting a stop not in force changes nothing.</summary>
    internal static async Task<IResult> LiftAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        await EmergencyStopOperations.LiftAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), time, cancellationToken).ConfigureAwait(false);
        return new JsonBytes(View(null), StatusCodes.Status200OK);
    }

    /// <summary>The stop as the audit records it.</summary>
    internal static string Json(EmergencyStop stop) => System.Text.Encoding.UTF8.GetString(ResponseJson.Serialize(stop, ServerJsonContext.Default.EmergencyStop));

    private static byte[] View(EmergencyStop? stop) => ResponseJson.Serialize(EmergencyStopView.Of(stop), ServerJsonContext.Default.EmergencyStopView);
}
