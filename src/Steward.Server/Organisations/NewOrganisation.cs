using System.Globalization;

namespace Steward.Server.Organisations;

/// <summary>
/// The body of <c>POST /api/v1/orgs</c> as it arrives: <c>{"slug", "name"?, "adminTokenName"?, "expiresInDays"?}</c>,
/// read by <see cref="RequestRecord"/> (a field of the wrong type is reported there and is null here).
/// </summary>
internal sealed record NewOrganisation(string? Slug, string? Name, string? AdminTokenName, long? ExpiresInDays)
{
    /// <summary>
    /// The organisation this body asks for, or null with every problem added to <paramref name="check"/>, each naming its
    /// field. The name is the slug when left out, the first admin token's name "first admin", its lifetime 90 days.
    /// </summary>
    public OrganisationRequest? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        check.Matching("slug", Slug, ProfilesApi.Slug(), "expected 1 to 63 lowercase letters, digits and '-', starting with a letter or digit (it is the organisation's name in URLs)");

        var name = check.Text("name", Name, 200, "expected a string of 1 to 200 characters");
        var tokenName = check.Text("adminTokenName", AdminTokenName, 100, "expected a string of 1 to 100 characters");
        var days = check.Given("expiresInDays") ? ExpiresInDays : TokensApi.DefaultLifetimeDays;
        if (days is not (>= 1 and <= TokensApi.MaxLifetimeDays) && !check.Reported("expiresInDays"))
        {
            check.Add("expiresInDays", $"expected whole days from 1 to {TokensApi.MaxLifetimeDays} (the first admin token's lifetime)",
                days?.ToString(CultureInfo.InvariantCulture) ?? "null");
        }

        return check.Count > 0 ? null : new OrganisationRequest(Slug!, name ?? Slug!, tokenName ?? "first admin", (int)days!.Value);
    }
}

/// <summary>What an organisation is created with: its slug, its name, and its first admin token's name and lifetime.</summary>
internal sealed record OrganisationRequest(string Slug, string Name, string AdminTokenName, int ExpiresInDays);
