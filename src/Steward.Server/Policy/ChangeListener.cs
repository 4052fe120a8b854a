using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Steward.Server.Policy;

/// <summary>
/// On PostgreSQL: one dedicated connection that <c>LISTEN</c>s on <see cref="Channel"/>, which every change's transaction
/// notifies (<c>Audit/AuditLog</c>), so a change committed through any instance raises <see cref="LocalChanges"/> here: what
/// this instance remembers is stale at once and its held change channels look again. When the connection is lost it is
/// opened again with backoff, and changes are raised once it listens again (a change committed meanwhile was not heard).
/// SQLite is one instance: the local raise is all there is.
/// </summary>
internal sealed partial class ChangeListener(Database database, LocalChanges changes, ILogger<ChangeListener> logger) : BackgroundService
{
    public const string Channel = "steward_changes";

    /// <summary>How long the connection waits for a notification before it checks that the database still answers.</summary>
    private static readonly TimeSpan Probe = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database.Dialect != Dialect.Postgres)
        {
            return;
        }

        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = (NpgsqlConnection)await database.OpenAsync(stoppingToken).ConfigureAwait(false);
                connection.Notification += (_, _) => changes.Changed();
                await connection.ExecuteAsync($"LISTEN {Channel}", null, stoppingToken).ConfigureAwait(false);
                if (failures > 0)
                {
                    Listening(logger);
                }

                failures = 0;
                changes.Changed();
                while (!stoppingToken.IsCancellationRequested)
                {
                    if (!await connection.WaitAsync(Probe, stoppingToken).ConfigureAwait(false))
                    {
                        await connection.ExecuteAsync("SELECT 1", null, stoppingToken).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is DbException or IOException or TimeoutException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                failures++;
                var delay = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(failures, 5)) * (0.5 + Random.Shared.NextDouble() / 2)));
                Lost(logger, e.Message, delay.TotalSeconds);
                try
                {
                    await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(EventId = 1210, Level = LogLevel.Warning, Message = "The connection listening for changes made through other instances was lost ({Error}); listening again in {Seconds:0.#} s")]
    private static partial void Lost(ILogger logger, string error, double seconds);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Information, Message = "Listening again for changes made through other instances")]
    private static partial void Listening(ILogger logger);
}
