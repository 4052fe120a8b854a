using Steward.Core.Json;

namespace Steward.Server.Identity;

/// <summary>
/// The body of <c>POST …/tokens</c> as it arrives: <c>{"name", "role": "admin"|"developer", "account"?, "expiresInDays"? | "expiresAt"?}</c>,
/// read by <see cref="RequestRecord"/> (a field of the wrong type is reported there and is null here).
/// </summary>
internal sealed record NewToken(string? Name, string? Role, string? Account, long? ExpiresInDays, string? ExpiresAt)
{
    /// <summary>
    /// The request this body asks for at <paramref name="now"/>, or null with every problem added to
    /// <paramref name="check"/>, each naming its field. The default lifetime is 90 days, the longest 730.
    /// </summary>
    public TokenRequest? Validate(BodyCheck check, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(check);
        var name = Name?.Trim();
        if (name is not { Length: > 0 and <= 100 } && !check.Reported("name"))
        {
            check.Add("name", "expected a string of 1 to 100 characters that says who or what uses the token", BodyCheck.Json(Name));
        }

        if (Role is not (Roles.Admin or Roles.Developer) && !check.Reported("role"))
        {
            check.Add("role", "expected admin or developer", BodyCheck.Json(Role));
        }

        if (Role == Roles.Developer && Account is null && !check.Reported("account"))
        {
            check.Add("account", "required for a developer token: a developer belongs to an account, whose profile applies to them");
        }

        var expires = Expires(check, now);
        return check.Count > 0 ? null : new TokenRequest(name!, Role!, Account, expires, now, BodyCheck.Json(Account));
    }

    private DateTimeOffset Expires(BodyCheck check, DateTimeOffset now)
    {
        // A null is neither a time nor a number of days: given, it is refused as the value of the wrong type would be.
        var givenDays = check.Given("expiresInDays");
        var givenAt = check.Given("expiresAt");
        if (givenDays && givenAt)
        {
            check.Add("expiresAt", "give expiresInDays or expiresAt, not both", BodyCheck.Json(ExpiresAt));
        }

        if (givenAt)
        {
            if (ExpiresAt is null || !Rfc3339.TryParse(ExpiresAt, out var at) || at <= now || at > now.AddDays(TokensApi.MaxLifetimeDays))
            {
                if (!check.Reported("expiresAt"))
                {
                    check.Add("expiresAt", $"expected an RFC 3339 time in the future, at most {TokensApi.MaxLifetimeDays} days away", BodyCheck.Json(ExpiresAt) ?? "null");
                }

                return now;
            }

            return Timestamps.Parse(Timestamps.ToText(at));
        }

        var days = givenDays ? ExpiresInDays : TokensApi.DefaultLifetimeDays;
        if (days is not (>= 1 and <= TokensApi.MaxLifetimeDays))
        {
            if (!check.Reported("expiresInDays"))
            {
                check.Add("expiresInDays", $"expected whole days from 1 to {TokensApi.MaxLifetimeDays}", days?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null");
            }

            return now;
        }

        return now.AddDays(days.Value);
    }
}

/// <summary>
/// What a token is created with: who or what uses it, its role, its account (a developer token's is required), when
/// it expires and when it was asked for (<see cref="Now"/>, its creation time). <see cref="AccountJson"/> is the
/// account as JSON text, for the problem that names it.
/// </summary>
internal sealed record TokenRequest(string Name, string Role, string? Account, DateTimeOffset Expires, DateTimeOffset Now, string? AccountJson);
