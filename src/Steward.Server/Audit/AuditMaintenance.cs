using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Steward.Server.Models;

namespace Steward.Server.Audit;

/// <summary>
/// The server's periodic audit work, on its <see cref="TimeProvider"/>: every minute the closed windows of refused
/// model requests are written as summary rows (<see cref="ModelRefusals"/>); every hour tool-call events past their
/// organisation's retention are pruned (<see cref="ToolCallRetention"/>). When the server stops, every open refusal
/// window is written. Every instance runs it; the database's locks keep two instances' prunes apart.
/// </summary>
internal sealed partial class AuditMaintenance(Database database, TimeProvider time, ModelRefusals refusals, ILogger<AuditMaintenance> logger) : BackgroundService
{
    public static readonly TimeSpan Tick = TimeSpan.FromMinutes(1);

    public static readonly TimeSpan PruneEvery = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, time);
        DateTimeOffset? lastPrune = null;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await refusals.FlushAsync().ConfigureAwait(false);
                var now = time.GetUtcNow();
                if (lastPrune is { } last && now - last < PruneEvery)
                {
                    continue;
                }

                lastPrune = now;
                try
                {
                    foreach (var pruned in await ToolCallRetention.PruneAsync(database, time, stoppingToken).ConfigureAwait(false))
                    {
                        Pruned(logger, pruned.Count, pruned.OrganisationId, pruned.Cutoff);
                    }
                }
                catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException or SocketException or IOException)
                {
                    PruneFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await refusals.FlushAsync(all: true).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1270, Level = LogLevel.Information, Message = "Pruned {Count} tool-call events of organisation {OrganisationId} received before {Cutoff}")]
    private static partial void Pruned(ILogger logger, long count, string organisationId, string cutoff);

    [LoggerMessage(EventId = 1271, Level = LogLevel.Warning, Message = "Pruning tool-call events failed; it is tried again within the hour: {Error}")]
    private static partial void PruneFailed(ILogger logger, string error);
}
