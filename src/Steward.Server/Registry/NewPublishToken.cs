using System.Globalization;
using Steward.Core.Json;

namespace Steward.Server.Registry;

/// <summary>
/// The body of <c>POST …/registry/publish-tokens</c> as it arrives: <c>{"name", "namespaces", "expiresInDays"?}</c>,
/// read by <see cref="RequestRecord"/> (a field of the wrong type is reported there and is null here). No field is a
/// secret: the token is made by the server and only ever shown in the answer.
/// </summary>
internal sealed record NewPublishToken(string? Name, IReadOnlyList<string?>? Namespaces, long? ExpiresInDays)
{
    public const int MaxNamespaces = 100;

    /// <summary>The token this body asks for, or null with every problem added to <paramref name="check"/>, each at its path (<c>namespaces[2]</c>).</summary>
    public PublishTokenRequest? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        // The name is kept as given (not trimmed), as it always was: it is only a label in the token's listing and audit.
        if (Name is not { Length: > 0 and <= 100 } && !check.Reported("name"))
        {
            check.Add("name", "expected a string of 1 to 100 characters", check.Given("name") ? BodyCheck.Json(Name) ?? "null" : null);
        }

        if (!check.Reported("namespaces"))
        {
            if (Namespaces is not { Count: > 0 and <= MaxNamespaces })
            {
                check.Add("namespaces", $"expected an array of 1 to {MaxNamespaces} name patterns such as \"com.acme/*\"");
            }
            else
            {
                for (var index = 0; index < Namespaces.Count; index++)
                {
                    if (Namespaces[index] is not { } pattern || !PublishTokens.IsPattern(pattern))
                    {
                        check.Add(JsonPath.Index("namespaces", index), "expected a name pattern: \"com.acme/*\", \"com.acme/server\", \"com.acme.*\" or \"*\"",
                            BodyCheck.Json(Namespaces[index]) ?? "null");
                    }
                }
            }
        }

        var days = check.Given("expiresInDays") ? ExpiresInDays : PublishTokens.DefaultLifetimeDays;
        if (days is not (>= 1 and <= PublishTokens.MaxLifetimeDays) && !check.Reported("expiresInDays"))
        {
            check.Add("expiresInDays", $"expected an integer from 1 to {PublishTokens.MaxLifetimeDays}", days?.ToString(CultureInfo.InvariantCulture) ?? "null");
        }

        return check.Count > 0 ? null : new PublishTokenRequest(Name!, [.. Namespaces!.Select(n => n!)], (int)days!.Value);
    }
}

/// <summary>What a publish token is created with: its name, the name patterns it may publish under, and its lifetime in days.</summary>
internal sealed record PublishTokenRequest(string Name, IReadOnlyList<string> Namespaces, int ExpiresInDays);
