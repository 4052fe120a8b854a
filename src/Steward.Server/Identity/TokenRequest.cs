using System.Text.Json;
using Steward.Core.Json;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Storage;

namespace Steward.Server.Identity;

/// <summary>
/// What a token is created with: who or what uses it, its role, its account (a developer token's is required), when
/// it expires and when it was asked for (<see cref="Now"/>, its creation time). <see cref="AccountJson"/> is the
/// account as the body spelled it, for the problem that names it.
/// </summary>
internal sealed record TokenRequest(string Name, string Role, string? Account, DateTimeOffset Expires, DateTimeOffset Now, string? AccountJson)
{
    public static readonly IReadOnlyList<string> Names = ["name", "role", "account", "expiresInDays", "expiresAt"];

    /// <summary>
    /// The request a body (<c>{"name", "role": "admin"|"developer", "account"?, "expiresInDays"? | "expiresAt"?}</c>)
    /// asks for now, or the first problem, naming its field. The default lifetime is 90 days, the longest 730.
    /// </summary>
    public static Outcome<TokenRequest> Read(JsonForm form, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (form.Problem is { } problem)
        {
            return Outcome<TokenRequest>.Refused(Problems.BodyOf(problem));
        }

        var root = form.Root;
        if (!root.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Trim() is not { Length: > 0 and <= 100 } name)
        {
            return Invalid("name", "expected a string of 1 to 100 characters that says who or what uses the token", Raw(nameElement));
        }

        if (!root.TryGetProperty("role", out var roleElement) || roleElement.ValueKind != JsonValueKind.String || roleElement.GetString() is not (Roles.Admin or Roles.Developer))
        {
            return Invalid("role", "expected admin or developer", Raw(roleElement));
        }

        var role = roleElement.GetString()!;
        string? accountSlug = null;
        if (root.TryGetProperty("account", out var accountElement) && accountElement.ValueKind != JsonValueKind.Null)
        {
            if (accountElement.ValueKind != JsonValueKind.String)
            {
                return Invalid("account", "expected the slug of one of the organisation's accounts", Raw(accountElement));
            }

            accountSlug = accountElement.GetString();
        }

        if (role == Roles.Developer && accountSlug is null)
        {
            return Invalid("account", "required for a developer token: a developer belongs to an account, whose profile applies to them", null);
        }

        var now = Timestamps.Now(time);
        DateTimeOffset expires;
        var hasDays = root.TryGetProperty("expiresInDays", out var daysElement);
        var hasAt = root.TryGetProperty("expiresAt", out var atElement);
        if (hasDays && hasAt)
        {
            return Invalid("expiresAt", "give expiresInDays or expiresAt, not both", Raw(atElement));
        }

        if (hasAt)
        {
            if (atElement.ValueKind != JsonValueKind.String || !Rfc3339.TryParse(atElement.GetString()!, out var at) || at <= now || at > now.AddDays(TokensApi.MaxLifetimeDays))
            {
                return Invalid("expiresAt", $"expected an RFC 3339 time in the future, at most {TokensApi.MaxLifetimeDays} days away", Raw(atElement));
            }

            expires = Timestamps.Parse(Timestamps.ToText(at));
        }
        else
        {
            var days = (long)TokensApi.DefaultLifetimeDays;
            if (hasDays && (!JsonForm.TryInteger(daysElement, out days) || days < 1 || days > TokensApi.MaxLifetimeDays))
            {
                return Invalid("expiresInDays", $"expected whole days from 1 to {TokensApi.MaxLifetimeDays}", Raw(daysElement));
            }

            expires = now.AddDays(days);
        }

        return Outcome<TokenRequest>.Done(new TokenRequest(name, role, accountSlug, expires, now, Raw(accountElement)));
    }

    private static Outcome<TokenRequest> Invalid(string field, string message, string? value) => Outcome<TokenRequest>.Refused(JsonForm.FieldProblem(field, message, value));

    private static string? Raw(JsonElement element) => element.ValueKind == JsonValueKind.Undefined ? null : element.GetRawText();
}
