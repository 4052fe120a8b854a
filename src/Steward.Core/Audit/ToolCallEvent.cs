using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Steward.Core.Json;

namespace Steward.Core.Audit;

/// <summary>One tool call as a gateway records it: a line of the local audit log, and an event it uploads.</summary>
/// <param name="Decision">allow, ask-approved, ask-declined, ask-unavailable, deny, disabled, pin_mismatch, unlisted.</param>
/// <param name="Outcome">ok, error (the tool reported an error), failed (the call failed), refused, cancelled, timeout, blocked.</param>
/// <param name="Arguments">The argument values, only when the policy enables it, secret-named values redacted; otherwise null.</param>
public readonly record struct ToolCallEvent(
    DateTimeOffset Time,
    string Server,
    string Tool,
    string Decision,
    string Because,
    double DurationMs,
    string Outcome,
    IDictionary<string, JsonElement>? Arguments);

/// <summary>Where a tool-call event is wrong: its JSON location (<c>body[3].time</c>), what was expected, the value given.</summary>
public sealed record ToolCallProblem(string Location, string Message, string? Value);

/// <summary>
/// The wire form of a tool-call event, written by the gateway (its audit log line and <c>POST /api/v1/audit/tool-calls</c>)
/// and read by the server, in one place so the two cannot drift:
/// <c>{"id", "time", "server", "tool", "decision", "because", "durationMs", "outcome", "arguments"?}</c>. The local log
/// line is the same object without <c>id</c> (and with the chain's <c>prevHash</c>/<c>hash</c> added after it).
/// </summary>
/// <remarks>
/// Written with <see cref="Utf8JsonWriter"/> (the local log appends one line per call under a lock, and the arguments are
/// raw JSON the gateway passes through), read from a <see cref="JsonElement"/> so a bad field is named by its location.
/// The reader accepts every event gateways have written since the upload began: the same members, <c>arguments</c>
/// absent or null when values are not recorded, and times with or without fractional seconds.
/// </remarks>
public static partial class ToolCallWire
{
    /// <summary>The members of an uploaded event; any other is refused, naming it.</summary>
    public static IReadOnlyList<string> Fields { get; } = ["id", "time", "server", "tool", "decision", "because", "durationMs", "outcome", "arguments"];

    /// <summary>How far in the future an event's time may be (a gateway's clock a little ahead).</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromDays(1);

    /// <summary>The time as every gateway writes it: UTC, milliseconds, <c>Z</c>.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    /// <summary>Writes the event as one object: <c>id</c> first when given (an upload), then <c>time</c> and the fields.</summary>
    public static void Write(Utf8JsonWriter writer, string? id, in ToolCallEvent entry)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        if (id is not null)
        {
            writer.WriteString("id", id);
        }

        Span<char> time = stackalloc char[32];
        entry.Time.UtcDateTime.TryFormat(time, out var length, "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        writer.WriteString("time", time[..length]);
        writer.WriteString("server", entry.Server);
        writer.WriteString("tool", entry.Tool);
        writer.WriteString("decision", entry.Decision);
        writer.WriteString("because", entry.Because);
        writer.WriteNumber("durationMs", Math.Round(entry.DurationMs, 3));
        writer.WriteString("outcome", entry.Outcome);
        if (entry.Arguments is { } arguments)
        {
            writer.WritePropertyName("arguments");
            WriteArguments(writer, arguments);
        }

        writer.WriteEndObject();
    }

    /// <summary>The event as an uploaded batch item, as text.</summary>
    public static string ToText(string? id, in ToolCallEvent entry)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, id, entry);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The arguments as one JSON object (how the server stores them).</summary>
    public static string ArgumentsText(IDictionary<string, JsonElement> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteArguments(writer, arguments);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteArguments(Utf8JsonWriter writer, IDictionary<string, JsonElement> arguments)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in arguments)
        {
            writer.WritePropertyName(name);
            value.WriteTo(writer);
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// One uploaded event, or the first bad field at <paramref name="at"/> (<c>body[i]</c>). <paramref name="now"/> bounds
    /// the time (at most <see cref="MaxClockSkew"/> ahead). The duration comes back rounded as the gateway writes it.
    /// </summary>
    public static (string? Id, ToolCallEvent Event, ToolCallProblem? Problem) Read(JsonElement item, string at, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(at);
        if (item.ValueKind != JsonValueKind.Object)
        {
            return Refuse(at, "expected a tool-call event object", item.ValueKind.ToString());
        }

        foreach (var member in item.EnumerateObject())
        {
            if (!Fields.Contains(member.Name, StringComparer.Ordinal))
            {
                var hint = member.Name is "organisation" or "organization" or "account" or "user" or "token"
                    ? "unknown field; the organisation, account and user are those of the bearer token"
                    : $"unknown field; expected one of {string.Join(", ", Fields)}";
                return Refuse($"{at}.{member.Name}", hint, null);
            }
        }

        if (Text(item, "id") is not { } id || !EventId().IsMatch(id))
        {
            return Refuse($"{at}.id", "expected the event's id: 1 to 64 letters, digits, '.', '_', ':' or '-' (a UUID), the same on every retry", Raw(item, "id"));
        }

        if (Text(item, "time") is not { } timeText || !Rfc3339.TryParse(timeText, out var when) || when > now + MaxClockSkew)
        {
            return Refuse($"{at}.time", "expected the RFC 3339 time of the call, not more than a day ahead of the server's clock", Raw(item, "time"));
        }

        if (Text(item, "server") is not { Length: > 0 and <= 200 } server)
        {
            return Refuse($"{at}.server", "expected the configured server's name, 1 to 200 characters", Raw(item, "server"));
        }

        if (Text(item, "tool") is not { Length: > 0 and <= 200 } tool)
        {
            return Refuse($"{at}.tool", "expected the tool's name, 1 to 200 characters", Raw(item, "tool"));
        }

        if (Text(item, "decision") is not { } decision || !Word().IsMatch(decision))
        {
            return Refuse($"{at}.decision", "expected the gateway's decision (allow, ask-approved, ask-declined, ask-unavailable, deny, disabled, pin_mismatch, unlisted)", Raw(item, "decision"));
        }

        if (Text(item, "because") is not { Length: <= 1000 } because)
        {
            return Refuse($"{at}.because", "expected the reason for the decision, a string of at most 1000 characters", Raw(item, "because"));
        }

        if (!item.TryGetProperty("durationMs", out var durationElement) || durationElement.ValueKind != JsonValueKind.Number ||
            !durationElement.TryGetDouble(out var duration) || duration is < 0 or > 1e9)
        {
            return Refuse($"{at}.durationMs", "expected the call's duration in milliseconds, a number from 0 to 1000000000", Raw(item, "durationMs"));
        }

        if (Text(item, "outcome") is not { } outcome || !Word().IsMatch(outcome))
        {
            return Refuse($"{at}.outcome", "expected the call's outcome (ok, error, failed, refused, cancelled, timeout, blocked)", Raw(item, "outcome"));
        }

        Dictionary<string, JsonElement>? arguments = null;
        if (item.TryGetProperty("arguments", out var argumentsElement) && argumentsElement.ValueKind != JsonValueKind.Null)
        {
            if (argumentsElement.ValueKind != JsonValueKind.Object)
            {
                return Refuse($"{at}.arguments", "expected the call's arguments as an object, or null (sent only when the profile records argument values)", Raw(item, "arguments"));
            }

            arguments = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var argument in argumentsElement.EnumerateObject())
            {
                // The last of a repeated name wins, as a JSON parser reading the object into a map would keep it.
                arguments[argument.Name] = argument.Value.Clone();
            }
        }

        return (id, new ToolCallEvent(when, server, tool, decision, because, Math.Round(duration, 3), outcome, arguments), null);
    }

    private static (string?, ToolCallEvent, ToolCallProblem?) Refuse(string location, string message, string? value) => (null, default, new ToolCallProblem(location, message, value));

    private static string? Text(JsonElement item, string name) =>
        item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string? Raw(JsonElement item, string name)
    {
        if (!item.TryGetProperty(name, out var value))
        {
            return null;
        }

        var text = value.GetRawText();
        return text.Length > 200 ? text[..200] + "…" : text;
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex EventId();

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,39}$", RegexOptions.CultureInvariant)]
    private static partial Regex Word();
}
