namespace Steward.Server.Organisations;

/// <summary>
/// The body of <c>PATCH …/accounts/{account}</c> as it arrives: <c>{"name": "Platform team"}</c>, the account's new
/// display name (its slug stays), read by <see cref="RequestRecord"/>.
/// </summary>
internal sealed record AccountRename(string? Name)
{
    /// <summary>The new name trimmed, or null with the problem naming <c>name</c> added to <paramref name="check"/>.</summary>
    public string? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        return check.Text("name", Name, 200, "expected a string of 1 to 200 characters: the account's new name (its slug stays)", required: true);
    }
}
