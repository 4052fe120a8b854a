namespace Steward.Server.Models;

/// <summary>
/// The body of <c>PUT …/models/token-groups/{tokenId}</c> as it arrives: <c>{"groups": ["contractors"]}</c>, read by
/// <see cref="RequestRecord"/> (a name of the wrong type is reported there, at its index).
/// </summary>
internal sealed record TokenGroupsRequest(IReadOnlyList<string?>? Groups)
{
    /// <summary>The groups trimmed, without repeats (in any case), in order; or null with the problem naming <c>groups</c> added to <paramref name="check"/>.</summary>
    public List<string>? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        return check.Names("groups", Groups, TokenGroupsApi.MaxGroups, $"expected an array of at most {TokenGroupsApi.MaxGroups} group names of 1 to 200 characters", required: true);
    }
}
