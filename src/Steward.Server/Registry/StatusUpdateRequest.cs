using Steward.Core.Registry;

namespace Steward.Server.Registry;

/// <summary>
/// The body of a status change, as the official registry takes it: <c>{"status", "statusMessage"?}</c>, read by
/// <see cref="RequestRecord"/> (a field of the wrong type is reported there and is null here). Members it does not know
/// are passed over, as the official registry passes over them, so that an official client adding one is not refused.
/// </summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip)]
public sealed record StatusUpdateRequest(string? Status, string? StatusMessage)
{
    /// <summary>The change this body asks for (an empty message is none), or null with every problem added to <paramref name="check"/>, each naming its field.</summary>
    internal StatusUpdate? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        if (Status is null || !ServerStatuses.All.Contains(Status, StringComparer.Ordinal))
        {
            if (!check.Reported("status"))
            {
                check.Add("status", "expected one of active, deprecated, deleted", check.Given("status") ? BodyCheck.Json(Status) ?? "null" : null);
            }
        }

        var message = StatusMessage is { Length: > 0 } given ? given : null;
        if (RegistryOperations.TooLong(message) is not null)
        {
            check.Add("statusMessage", "expected length <= 500");
        }

        return check.Count > 0 ? null : new StatusUpdate(Status!, message);
    }
}

/// <summary>A status change as asked for: the new status, and its message (null: none).</summary>
internal sealed record StatusUpdate(string Status, string? Message);
