using Microsoft.Extensions.Logging;

namespace Steward.Server.Registry;

/// <summary>A profile's registry as the admin sees it: its mode and URL and, when external, the copy in force and the last attempt.</summary>
internal sealed record ExternalRegistryView(ProfileSettings Settings, ExternalState? State)
{
    /// <summary>The view as the admin API answers it (<see cref="ExternalRegistries.WriteView"/>).</summary>
    public byte[] ToJson() => ResponseJson.Write(w => ExternalRegistries.WriteView(w, Settings, State));

    /// <summary>The problems of the last attempt's refused document, by JSON path (path, message, rule).</summary>
    public IReadOnlyList<(string? Path, string? Message, string? Rule)> Problems()
    {
        if (State?.ProblemsJson is not { } json)
        {
            return [];
        }

        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.GetProperty("problems").EnumerateArray().Select(p => (Text(p, "path"), Text(p, "message"), Text(p, "rule")))];
    }

    private static string? Text(JsonElement item, string name) =>
        item.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.ToString() : null;
}

/// <summary>
/// A profile's external registry, for the admin API (<see cref="ExternalRegistrySync"/>'s endpoints) and the console
/// alike: its state, and "refresh now". The caller was authorised by whoever calls: the API's admin filter, or the
/// console's session gate.
/// </summary>
internal static class ExternalRegistryOperations
{
    /// <summary>The organisation's profile's registry (<paramref name="accountSlug"/> null), or the account's own; 404 naming what is missing.</summary>
    public static async Task<Outcome<ExternalRegistryView>> StateAsync(Database database, Organisation organisation, string? accountSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(organisation);
        var (profile, problem) = await ProfileAsync(database, organisation, accountSlug, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return Outcome<ExternalRegistryView>.Refused(problem);
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var state = profile!.Settings.RegistryMode == RegistryModes.External ? await ExternalRegistries.FindAsync(connection, null, profile.Id, cancellationToken).ConfigureAwait(false) : null;
        return Outcome<ExternalRegistryView>.Done(new ExternalRegistryView(profile.Settings, state));
    }

    /// <summary>
    /// Fetches the external registry at once: the state with 200 when it was fetched (or unchanged: 304); with 422 when the
    /// document was refused (problems by JSON path), 502 when the registry could not be reached (the last good copy stays
    /// in force); refused 409 when the registry is not external, 404 when there is no such profile.
    /// </summary>
    public static async Task<Outcome<ExternalRegistryView>> RefreshAsync(Database database, ServerOutbound outbound, ServeOptions options, TimeProvider time, LocalChanges changes,
        ILogger logger, Caller caller, Organisation organisation, string? accountSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        var (profile, problem) = await ProfileAsync(database, organisation, accountSlug, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return Outcome<ExternalRegistryView>.Refused(problem);
        }

        if (profile!.Settings.RegistryMode != RegistryModes.External)
        {
            return Outcome<ExternalRegistryView>.Refused(Hosting.Problems.Body(StatusCodes.Status409Conflict, "Registry is not external",
                $"this profile's registry mode is {profile.Settings.RegistryMode}; only an external registry (registryMode \"external\" with a registryUrl) is fetched"));
        }

        var refresh = await ExternalRegistries.RefreshAsync(database, outbound, options, time, changes, logger,
            organisation, profile, caller.Actor, onDemand: true, cancellationToken).ConfigureAwait(false);
        var status = refresh.State.Outcome switch
        {
            ExternalOutcomes.Invalid => StatusCodes.Status422UnprocessableEntity,
            ExternalOutcomes.Unreachable or ExternalOutcomes.Refused => StatusCodes.Status502BadGateway,
            _ => StatusCodes.Status200OK,
        };
        return Outcome<ExternalRegistryView>.Done(new ExternalRegistryView(profile.Settings, refresh.State), status);
    }

    private static async Task<(StoredProfile? Profile, ProblemBody? Problem)> ProfileAsync(Database database, Organisation organisation, string? accountSlug, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        string? accountId = null;
        if (accountSlug is not null)
        {
            var account = await Profiles.FindAccountAsync(connection, null, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
            if (account is null)
            {
                return (null, Hosting.Problems.BodyOf(ProfilesApi.AccountNotFound(accountSlug)));
            }

            accountId = account.Id;
        }

        var profile = await Profiles.FindAsync(connection, null, organisation.Id, accountId, cancellationToken).ConfigureAwait(false);
        return profile is null
            ? (null, Hosting.Problems.Body(StatusCodes.Status404NotFound, "Not Found", accountId is null ? "the organisation has no profile" : "the account has no profile of its own; the organisation's profile applies to it"))
            : (profile, null);
    }
}
