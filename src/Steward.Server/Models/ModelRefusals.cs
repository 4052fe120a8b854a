using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>
/// The admin-audit rows of refused model requests, aggregated so a client that retries a refused model cannot flood
/// the append-only audit. Per (organisation, token, reason) the first refusal writes its own
/// <c>model.access-denied</c> row at once and opens a one-minute window (<see cref="Window"/>); later refusals in the
/// window are counted, and written as one <c>model.request.refused</c> row (<c>count</c>, <c>first</c>, <c>last</c>,
/// the models asked for) when the window has closed: at the next refusal of that key, at the next periodic flush
/// (<see cref="AuditMaintenance"/>, every minute) or when the server stops.
/// </summary>
/// <remarks>
/// The windows are held by each instance: with several instances each writes at most its own first row and summary
/// per key and window. A refused request writes no other data, so its audit row is the transaction's only write. When
/// the write fails the request is still refused (it was never sent upstream); the failure is logged and the refusal
/// is kept in the count of the next summary, so no refusal goes unrecorded while the database comes back.
/// </remarks>
internal sealed partial class ModelRefusals(Database database, TimeProvider time, ILogger<ModelRefusals> logger) : IDisposable
{
    /// <summary>How long after a key's first written refusal further refusals are only counted.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>The most keys counted at once; past it a refusal of a new key writes its own row (never silently lost).</summary>
    public const int MaxKeys = 10_000;

    /// <summary>The most distinct model names a summary lists.</summary>
    public const int MaxRequestedListed = 20;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<(string Organisation, string Token, string Reason), Counted> _windows = [];

    /// <summary>One key's open window: when it opened and what was refused since without a row of its own.</summary>
    private sealed class Counted(DateTimeOffset opened, string actor)
    {
        public DateTimeOffset Opened { get; set; } = opened;
        public string Actor { get; set; } = actor;
        public long Count { get; set; }
        public DateTimeOffset First { get; set; }
        public DateTimeOffset Last { get; set; }
        public SortedSet<string> Requested { get; } = new(StringComparer.Ordinal);
        public int MoreRequested { get; set; }
        public string? Account { get; set; }
        public string PolicyRevision { get; set; } = "";

        public void Add(DateTimeOffset at, string requested, ModelScope scope)
        {
            if (Count == 0)
            {
                First = at;
            }

            Count++;
            Last = at;
            Actor = scope.Who.Caller.Actor;
            Account = scope.Who.AccountSlug;
            PolicyRevision = scope.Revision;
            if (!Requested.Contains(requested))
            {
                if (Requested.Count < MaxRequestedListed)
                {
                    Requested.Add(requested);
                }
                else
                {
                    MoreRequested++;
                }
            }
        }
    }

    /// <summary>Records one refusal: its own row, or a count in the key's open window. Never throws for a failed write.</summary>
    public async Task RecordAsync(ModelScope scope, string endpoint, ModelDecision.Denied denied)
    {
        var requested = ModelGateway.Printable(denied.Requested);
        var key = (scope.Who.Caller.OrganisationId, scope.Who.Caller.TokenId, denied.Reason);
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var now = Timestamps.Now(time);
            _windows.TryGetValue(key, out var open);
            if (open is not null && now < open.Opened + Window)
            {
                open.Add(now, requested, scope);
                return;
            }

            if (open is null && _windows.Count >= MaxKeys)
            {
                await TryWriteAsync(key, null, (scope, endpoint, denied, requested), now).ConfigureAwait(false);
                return;
            }

            if (await TryWriteAsync(key, open is { Count: > 0 } ? open : null, (scope, endpoint, denied, requested), now).ConfigureAwait(false))
            {
                _windows[key] = new Counted(now, scope.Who.Caller.Actor);
            }
            else
            {
                // Nothing was written: the refusal joins the count (with what was counted before), for a later summary.
                open ??= new Counted(now, scope.Who.Caller.Actor);
                open.Opened = now;
                open.Add(now, requested, scope);
                _windows[key] = open;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Writes the summary of every window that has closed (every window, when <paramref name="all"/>: the server is
    /// stopping) and forgets them. Returns how many summary rows were written.
    /// </summary>
    public async Task<int> FlushAsync(bool all = false)
    {
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var now = Timestamps.Now(time);
            var written = 0;
            foreach (var (key, counted) in _windows.Where(w => all || now >= w.Value.Opened + Window).ToList())
            {
                if (counted.Count == 0)
                {
                    _windows.Remove(key);
                }
                else if (await TryWriteAsync(key, counted, null, now).ConfigureAwait(false))
                {
                    _windows.Remove(key);
                    written++;
                }
            }

            return written;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The summary of <paramref name="closed"/> and the row of <paramref name="refusal"/>, in one transaction; false when it failed.</summary>
    private async Task<bool> TryWriteAsync((string Organisation, string Token, string Reason) key, Counted? closed,
        (ModelScope Scope, string Endpoint, ModelDecision.Denied Denied, string Requested)? refusal, DateTimeOffset now)
    {
        try
        {
            await using var connection = await database.OpenAsync(CancellationToken.None).ConfigureAwait(false);
            await using var transaction = await Database.BeginWriteAsync(connection, CancellationToken.None).ConfigureAwait(false);
            if (closed is not null)
            {
                await AuditLog.WriteAsync(connection, transaction, key.Organisation, now, closed.Actor, "model.request.refused", "model-refusals:" + key.Reason,
                    null, Summary(key.Reason, closed), null, CancellationToken.None).ConfigureAwait(false);
            }

            if (refusal is { } r)
            {
                await AuditLog.WriteAsync(connection, transaction, key.Organisation, now, r.Scope.Who.Caller.Actor, "model.access-denied", "model:" + r.Requested,
                    null, Detail(r.Scope, r.Endpoint, r.Denied, r.Requested), null, CancellationToken.None).ConfigureAwait(false);
            }

            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException or SocketException or IOException)
        {
            WriteFailed(logger, key.Token, key.Reason, e.Message);
            return false;
        }
    }

    /// <summary>A refusal's own row: who, what was asked for, the reason and the policy revision; never the prompt.</summary>
    private static string Detail(ModelScope scope, string endpoint, ModelDecision.Denied denied, string requested) => Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("requested", requested);
        w.WriteString("reason", denied.Reason);
        w.WriteString("endpoint", endpoint);
        Nullable(w, "account", scope.Who.AccountSlug);
        w.WriteStartArray("groups");
        foreach (var group in scope.Who.Groups)
        {
            w.WriteStringValue(group);
        }

        w.WriteEndArray();
        w.WriteString("policyRevision", scope.Revision);
        w.WriteEndObject();
    }));

    /// <summary>A window's summary: how many refusals had no row of their own, between which times, and of which models.</summary>
    private static string Summary(string reason, Counted counted) => Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("reason", reason);
        w.WriteNumber("count", counted.Count);
        w.WriteString("first", Timestamps.ToText(counted.First));
        w.WriteString("last", Timestamps.ToText(counted.Last));
        w.WriteNumber("windowSeconds", (long)Window.TotalSeconds);
        w.WriteStartArray("requested");
        foreach (var model in counted.Requested)
        {
            w.WriteStringValue(model);
        }

        w.WriteEndArray();
        w.WriteNumber("otherModels", counted.MoreRequested);
        Nullable(w, "account", counted.Account);
        w.WriteString("policyRevision", counted.PolicyRevision);
        w.WriteEndObject();
    }));

    private static void Nullable(System.Text.Json.Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    public void Dispose() => _gate.Dispose();

    [LoggerMessage(EventId = 1403, Level = LogLevel.Error, Message = "The audit row of a refused model request (token {TokenId}, {Reason}) could not be written; the request was refused and is counted for a later summary row: {Error}")]
    private static partial void WriteFailed(ILogger logger, string tokenId, string reason, string error);
}
