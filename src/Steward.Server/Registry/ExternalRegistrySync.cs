using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Steward.Server.Registry;

/// <summary>
/// Keeps every external registry current, on the server's <see cref="TimeProvider"/>: each minute (and at once when
/// <see cref="Kick"/>ed — a profile set to external, or a URL changed), every profile whose registry is external is
/// refreshed when it was never fetched, or when its sync interval has passed since the last attempt (after a failed
/// attempt, at most <see cref="RetryAfterFailure"/>). Every instance runs it; a refresh that another instance made first
/// is answered 304 to its ETag.
/// </summary>
internal sealed partial class ExternalRegistrySync(Database database, ServerOutbound outbound, ServeOptions options, TimeProvider time, LocalChanges changes,
    ILogger<ExternalRegistrySync> logger) : BackgroundService
{
    public static readonly TimeSpan Tick = TimeSpan.FromMinutes(1);

    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromMinutes(15);

    private readonly Channel<bool> _kicks = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Looks for due external registries now rather than at the next tick.</summary>
    public void Kick() => _kicks.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, time);
        var tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
        try
        {
            await RunDueAsync(stoppingToken).ConfigureAwait(false);
            while (!stoppingToken.IsCancellationRequested)
            {
                var kick = _kicks.Reader.WaitToReadAsync(stoppingToken).AsTask();
                var done = await Task.WhenAny(tick, kick).ConfigureAwait(false);
                if (done == tick)
                {
                    if (!await tick.ConfigureAwait(false))
                    {
                        return;
                    }

                    tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
                }
                else
                {
                    await kick.ConfigureAwait(false);
                    _kicks.Reader.TryRead(out _);
                }

                await RunDueAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunDueAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var (organisation, profile) in await DueAsync(cancellationToken).ConfigureAwait(false))
            {
                await ExternalRegistries.RefreshAsync(database, outbound, options, time, changes, logger, organisation, profile, ExternalRegistries.ScheduledActor, onDemand: false,
                    cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException or SocketException or IOException && !cancellationToken.IsCancellationRequested)
        {
            SyncRoundFailed(logger, e.Message);
        }
    }

    private async Task<List<(Organisation, StoredProfile)>> DueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            $"SELECT {string.Join(", ", StoredProfile.Columns.Split(", ").Select(c => "p." + c))}, o.slug, o.name, e.attempted_at, e.outcome, e.url " +
            "FROM profiles p JOIN organisations o ON o.id = p.organisation_id LEFT JOIN external_registries e ON e.profile_id = p.id WHERE p.registry_mode = 'external'",
            null, r => (Profile: StoredProfile.Read(r), Slug: r.GetString(14), Name: r.GetString(15), AttemptedAt: r.NullableString(16), Outcome: r.NullableString(17), Url: r.NullableString(18)),
            cancellationToken).ConfigureAwait(false);
        var due = new List<(Organisation, StoredProfile)>();
        foreach (var row in rows)
        {
            var interval = TimeSpan.FromSeconds(row.Profile.Settings.SyncIntervalSeconds);
            if (!ExternalOutcomes.Succeeded(row.Outcome) && row.Outcome is not null && interval > RetryAfterFailure)
            {
                interval = RetryAfterFailure;
            }

            if (row.AttemptedAt is null || row.Url != row.Profile.Settings.RegistryUrl || Timestamps.Parse(row.AttemptedAt) + interval <= now)
            {
                due.Add((new Organisation(row.Profile.OrganisationId, row.Slug, row.Name), row.Profile));
            }
        }

        return due;
    }

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapGet("/profile/registry-sync", StateAsync);
        organisation.MapPost("/profile/registry-sync", RefreshNowAsync);
        organisation.MapGet("/accounts/{account}/profile/registry-sync", StateAsync);
        organisation.MapPost("/accounts/{account}/profile/registry-sync", RefreshNowAsync);
    }

    /// <summary><c>GET …/profile/registry-sync</c>: the profile's registry mode and, when external, the copy in force and the last attempt (problems by JSON path).</summary>
    internal static async Task<IResult> StateAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var outcome = await ExternalRegistryOperations.StateAsync(database, Authentication.OrganisationOf(context), context.GetRouteValue("account") as string, cancellationToken)
            .ConfigureAwait(false);
        return outcome.ToResult(view => view.ToJson());
    }

    /// <summary>
    /// <c>POST …/profile/registry-sync</c> ("refresh now", <see cref="ExternalRegistryOperations.RefreshAsync"/>): 200 with the
    /// state when it was fetched (or unchanged: 304); 422 when the document was refused (problems by JSON path), 502 when
    /// the registry could not be reached, both with the state (the last good copy stays in force); 409 when the registry
    /// is not external.
    /// </summary>
    internal static async Task<IResult> RefreshNowAsync(HttpContext context, Database database, ServerOutbound outbound, ServeOptions options, TimeProvider time, LocalChanges changes,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var outcome = await ExternalRegistryOperations.RefreshAsync(database, outbound, options, time, changes, loggers.CreateLogger("Steward.Server.Registry"),
            Authentication.CallerOf(context), Authentication.OrganisationOf(context), context.GetRouteValue("account") as string, cancellationToken).ConfigureAwait(false);
        return outcome.ToResult(view => view.ToJson());
    }

    [LoggerMessage(EventId = 1282, Level = LogLevel.Warning, Message = "A round of external registry refreshes failed; it is tried again at the next tick: {Error}")]
    private static partial void SyncRoundFailed(ILogger logger, string error);
}
