namespace Steward.Server.Organisations;

/// <summary>
/// The body of <c>POST …/accounts</c> as it arrives: <c>{"slug": "platform", "name"?: "Platform team"}</c>, read by
/// <see cref="RequestRecord"/> (a field of the wrong type is reported there and is null here).
/// </summary>
internal sealed record NewAccount(string? Slug, string? Name)
{
    /// <summary>The account this body asks for, or null with every problem added to <paramref name="check"/>, each naming its field. The name is the slug when left out.</summary>
    public AccountRequest? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        var slug = check.Matching("slug", Slug, ProfilesApi.Slug(), "expected 1 to 63 lowercase letters, digits and '-', starting with a letter or digit");
        var name = check.Text("name", Name, 200, "expected a string of 1 to 200 characters");
        return check.Count > 0 ? null : new AccountRequest(slug!, name ?? slug!);
    }
}

/// <summary>What an account is created with: its slug (its identifier in URLs, tokens and exports, which never changes) and its name.</summary>
internal sealed record AccountRequest(string Slug, string Name);
