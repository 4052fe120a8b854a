using System.Globalization;
using Steward.Core.Audit;
using Steward.Core.Json;

namespace Steward.Server.Audit;

/// <summary>
/// Tool calls recorded by developers' gateways (docs/gateway.md, "Audit"):
/// <c>POST /api/v1/audit/tool-calls</c>, any valid token of the organisation, a JSON array of events, stored once per
/// event id (a retried batch is not stored twice); the organisation, account and token come from the bearer token,
/// never from the body. <c>GET /api/v1/orgs/{org}/audit/tool-calls</c>, admins only: the organisation's events, newest
/// received first, filtered and paged like <c>GET …/audit</c>.
/// </summary>
internal static partial class ToolCallsApi
{
    /// <summary>The largest batch body: 1 MiB (413 above it).</summary>
    public const int MaxBodyBytes = RequestBodies.MaxBytes;

    /// <summary>The most events in one batch.</summary>
    public const int MaxEvents = 500;

    /// <summary>How far in the future an event's time may be (a gateway's clock a little ahead).</summary>
    public static readonly TimeSpan MaxClockSkew = ToolCallWire.MaxClockSkew;

    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisation)
    {
        app.MapPost("/api/v1/audit/tool-calls", PostAsync);
        organisation.MapGet("/audit/tool-calls", ListAsync);
    }

    private sealed record ToolCall(string Id, string At, string Server, string Tool, string Decision, string Because, double DurationMs, string Outcome, string? Arguments);

    /// <summary>
    /// 200 <c>{"received", "stored", "duplicates"}</c>; 401 without a valid token; 413 over 1 MiB; 400 not JSON; 422 naming
    /// each bad event's first bad field as <c>body[i].field</c> (nothing of the batch is stored then).
    /// </summary>
    internal static async Task<IResult> PostAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = await Authentication.AuthenticateAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (caller is null)
        {
            return Authentication.Unauthorized(context);
        }

        var body = await RequestBodies.ReadAsync(context.Request, MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(MaxBodyBytes);
        }

        JsonElement root;
        using (var document = RequestJson.Parse(body, out var refused, maxDepth: 64))
        {
            if (document is null)
            {
                return refused!;
            }

            root = document.RootElement.Clone();
        }

        if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() is 0 or > MaxEvents)
        {
            return Problems.Of(BodyCheck.One("$", $"expected a JSON array of 1 to {MaxEvents} tool-call events",
                root.ValueKind == JsonValueKind.Array ? $"{root.GetArrayLength()} events" : root.ValueKind.ToString()));
        }

        // Every event is read, so that one 422 names each bad event (its first bad field, as the gateway's contract reads it).
        var now = Timestamps.Now(time);
        var events = new List<ToolCall>(root.GetArrayLength());
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var check = new BodyCheck(root);
        var index = 0;
        foreach (var item in root.EnumerateArray())
        {
            var call = Read(item, JsonPath.Index("", index++), now, check);

            // The same id twice in one batch is one event, as it would be across batches.
            if (call is not null && seen.Add(call.Id))
            {
                events.Add(call);
            }
        }

        if (check.Problem() is { } problem)
        {
            return Problems.Of(problem);
        }

        var stored = 0;
        var argumentsDropped = 0;
        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            // Argument values are kept only while the caller's effective profile records them: a client that sends them
            // anyway (an older or modified gateway) does not override the admin's choice.
            if (events.Any(e => e.Arguments is not null)
                && (await Profiles.EffectiveOfAsync(connection, caller, cancellationToken).ConfigureAwait(false))?.Settings.AuditToolArguments != true)
            {
                argumentsDropped = events.Count(e => e.Arguments is not null);
                events = [.. events.Select(e => e with { Arguments = null })];
            }

            await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            var received = Timestamps.ToText(now);
            foreach (var call in events)
            {
                stored += await connection.ExecuteAsync(
                    """
                    INSERT INTO tool_call_events (organisation_id, event_id, account_id, token_id, at, received_at, server, tool, decision, because, duration_ms, outcome, arguments_json)
                    VALUES (@org, @event, @account, @token, @at, @received, @server, @tool, @decision, @because, @duration, @outcome, @arguments)
                    ON CONFLICT (organisation_id, event_id) DO NOTHING
                    """,
                    transaction, cancellationToken,
                    ("org", caller.OrganisationId), ("event", call.Id), ("account", caller.AccountId), ("token", caller.TokenId), ("at", call.At), ("received", received),
                    ("server", call.Server), ("tool", call.Tool), ("decision", call.Decision), ("because", call.Because), ("duration", call.DurationMs),
                    ("outcome", call.Outcome), ("arguments", call.Arguments)).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        var count = root.GetArrayLength();
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("received", count);
            w.WriteNumber("stored", stored);
            w.WriteNumber("duplicates", count - stored);
            w.WriteNumber("argumentsDropped", argumentsDropped);
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    /// <summary>One event, read by the gateway's own contract (Core's <see cref="ToolCallWire"/>), or null with its first bad field added to <paramref name="check"/>.</summary>
    private static ToolCall? Read(JsonElement item, string at, DateTimeOffset now, BodyCheck check)
    {
        var (id, entry, problem) = ToolCallWire.Read(item, at, now);
        if (problem is not null)
        {
            check.Add(problem.Location, problem.Message, problem.Value);
            return null;
        }

        return new ToolCall(id!, Timestamps.ToText(entry.Time), entry.Server, entry.Tool, entry.Decision, entry.Because, entry.DurationMs, entry.Outcome,
            entry.Arguments is { } arguments ? ToolCallWire.ArgumentsText(arguments) : null);
    }

    /// <summary>
    /// <c>GET …/audit/tool-calls</c>: newest received first; filters <c>server</c>, <c>tool</c>, <c>decision</c>,
    /// <c>outcome</c>, <c>account</c> (slug), <c>since</c> and <c>until</c> (RFC 3339, on the call's time); <c>limit</c>
    /// 1–500 (50); <c>cursor</c> from the previous page's <c>metadata.nextCursor</c>.
    /// </summary>
    internal static async Task<IResult> ListAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var (page, pageProblem) = AuditPage.From(query);
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        var (limit, before) = page;

        var exact = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var name in new[] { "server", "tool", "decision", "outcome", "account" })
        {
            if (query[name].ToString() is { Length: > 0 } value)
            {
                if (value.Length > 200)
                {
                    return Problems.Query(name, "expected at most 200 characters", value[..200]);
                }

                exact[name] = value;
            }
        }

        var bounds = new Dictionary<string, DateTimeOffset?>(StringComparer.Ordinal);
        foreach (var name in new[] { "since", "until" })
        {
            if (query[name].ToString() is { Length: > 0 } value)
            {
                if (!Rfc3339.TryParse(value, out var bound))
                {
                    return Problems.Query(name, "expected an RFC 3339 time such as 2026-01-02T03:04:05Z", value.Length > 200 ? value[..200] : value);
                }

                bounds[name] = bound;
            }
        }

        var filter = new ToolCallFilter(exact.GetValueOrDefault("server"), exact.GetValueOrDefault("tool"), exact.GetValueOrDefault("decision"), exact.GetValueOrDefault("outcome"),
            exact.GetValueOrDefault("account"), bounds.GetValueOrDefault("since"), bounds.GetValueOrDefault("until"), before);
        var (rows, next) = await ToolCallOperations.QueryAsync(database, Authentication.OrganisationOf(context).Id, filter, limit, cancellationToken).ConfigureAwait(false);
        var body = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("toolCalls");
            foreach (var row in rows)
            {
                w.WriteStartObject();
                w.WriteString("id", row.EventId);
                w.WriteString("time", row.At);
                w.WriteString("receivedAt", row.ReceivedAt);
                w.WriteString("account", row.Account);
                w.WriteString("user", row.TokenName);
                w.WriteString("tokenId", row.TokenId);
                w.WriteString("server", row.Server);
                w.WriteString("tool", row.Tool);
                w.WriteString("decision", row.Decision);
                w.WriteString("because", row.Because);
                w.WriteNumber("durationMs", row.DurationMs);
                w.WriteString("outcome", row.Outcome);
                if (row.Arguments is { } arguments)
                {
                    w.WritePropertyName("arguments");
                    w.WriteRawValue(arguments);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("metadata");
            if (next is { } cursor)
            {
                w.WriteString("nextCursor", cursor.ToString(CultureInfo.InvariantCulture));
            }

            w.WriteNumber("count", rows.Count);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        return new JsonBytes(body, StatusCodes.Status200OK);
    }
}

/// <summary>A stored tool-call event with the account's slug and the token's name (the "user").</summary>
internal sealed record ToolCallRow(long Id, string EventId, string At, string ReceivedAt, string? Account, string TokenId, string TokenName,
    string Server, string Tool, string Decision, string Because, double DurationMs, string Outcome, string? Arguments);

/// <summary>What an admin narrows the tool calls by; null: any.</summary>
internal sealed record ToolCallFilter(string? Server, string? Tool, string? Decision, string? Outcome, string? Account, DateTimeOffset? Since, DateTimeOffset? Until, long? Before);
