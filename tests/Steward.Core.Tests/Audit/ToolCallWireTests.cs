using System.Text.Json;
using Steward.Core.Audit;

namespace Steward.Core.Tests.Audit;

/// <summary>The tool-call event contract: what the gateway writes is what the server reads, field for field.</summary>
public class ToolCallWireTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static Dictionary<string, JsonElement> Arguments(string json) =>
        Parse(json).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);

    public static TheoryData<string> Events() => new()
    {
        "plain",
        "arguments",
        "unicode",
        "zero-duration",
    };

    private static ToolCallEvent Sample(string name) => name switch
    {
        "plain" => new(Now.AddMinutes(-5).AddMilliseconds(123), "everything", "echo", "allow", "no rule", 3.25, "ok", null),
        "arguments" => new(Now.AddSeconds(-1), "github", "create_issue", "ask-approved", "rule github/create_*", 1234.5679, "error",
            Arguments("""{"title":"a \"quoted\" title","labels":["x","y"],"count":3,"nested":{"token":"[redacted]"},"none":null}""")),
        "unicode" => new(Now.AddHours(-3), "sérveur", "outil_é", "deny", "règle: “non”", 0.001, "refused", Arguments("""{"texte":"日本語 ✓"}""")),
        _ => new(Now.AddDays(-30), "s", "t", "pin_mismatch", "", 0, "blocked", null),
    };

    [Theory]
    [MemberData(nameof(Events))]
    public void An_event_written_by_the_gateway_reads_back_as_the_same_event(string name)
    {
        var written = Sample(name);
        var text = ToolCallWire.ToText("0193c8f1-7a8e-7000-8000-000000000001", written);
        var (id, read, problem) = ToolCallWire.Read(Parse(text), "body[0]", Now);
        Assert.Null(problem);
        Assert.Equal("0193c8f1-7a8e-7000-8000-000000000001", id);
        // The time travels at millisecond precision, the duration at three decimals.
        Assert.Equal(written.Time.ToUnixTimeMilliseconds(), read.Time.ToUnixTimeMilliseconds());
        Assert.Equal((written.Server, written.Tool, written.Decision, written.Because, Math.Round(written.DurationMs, 3), written.Outcome),
            (read.Server, read.Tool, read.Decision, read.Because, read.DurationMs, read.Outcome));
        Assert.Equal(written.Arguments is null ? null : ToolCallWire.ArgumentsText(written.Arguments), read.Arguments is null ? null : ToolCallWire.ArgumentsText(read.Arguments));
        // Written again, it is the same text: one form on both sides.
        Assert.Equal(text, ToolCallWire.ToText(id, read));
    }

    [Fact]
    public void The_local_log_line_is_the_upload_without_its_id()
    {
        var entry = Sample("arguments");
        var upload = Parse(ToolCallWire.ToText("e-1", entry));
        var line = Parse(ToolCallWire.ToText(null, entry));
        Assert.False(line.TryGetProperty("id", out _));
        Assert.Equal(upload.EnumerateObject().Where(p => p.Name != "id").Select(p => (p.Name, p.Value.GetRawText())), line.EnumerateObject().Select(p => (p.Name, p.Value.GetRawText())));
        Assert.Equal(ToolCallWire.Fields, upload.EnumerateObject().Select(p => p.Name));
    }

    [Theory]
    [InlineData("""{"id":"e1","time":"2026-03-02T09:29:00.000Z","server":"everything","tool":"echo","decision":"allow","because":"no rule","durationMs":4.5,"outcome":"ok"}""")]
    [InlineData("""{"id":"e2","time":"2026-03-02T09:29:00Z","server":"everything","tool":"echo","decision":"deny","because":"rule everything/echo","durationMs":0,"outcome":"refused","arguments":null}""")]
    [InlineData("""{"id":"e3","time":"2026-03-02T10:29:00+01:00","server":"everything","tool":"echo","decision":"allow","because":"","durationMs":12,"outcome":"ok","arguments":{"message":"hi"}}""")]
    public void Events_as_earlier_gateways_sent_them_are_still_read(string json)
    {
        var (id, read, problem) = ToolCallWire.Read(Parse(json), "body[0]", Now);
        Assert.Null(problem);
        Assert.StartsWith("e", id, StringComparison.Ordinal);
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 9, 29, 0, TimeSpan.Zero), read.Time);
        Assert.Equal("everything", read.Server);
    }

    [Theory]
    [InlineData("""[]""", "body[7]", "expected a tool-call event object")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"allow","because":"","durationMs":1,"outcome":"ok","account":"x"}""", "body[7].account", "those of the bearer token")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"allow","because":"","durationMs":1,"outcome":"ok","extra":1}""", "body[7].extra", "expected one of id, time")]
    [InlineData("""{"id":"has space","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"allow","because":"","durationMs":1,"outcome":"ok"}""", "body[7].id", "the event's id")]
    [InlineData("""{"id":"e","time":"2026-03-05T09:29:00Z","server":"s","tool":"t","decision":"allow","because":"","durationMs":1,"outcome":"ok"}""", "body[7].time", "not more than a day ahead")]
    [InlineData("""{"id":"e","time":"yesterday","server":"s","tool":"t","decision":"allow","because":"","durationMs":1,"outcome":"ok"}""", "body[7].time", "RFC 3339")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"","tool":"t","decision":"allow","because":"","durationMs":1,"outcome":"ok"}""", "body[7].server", "1 to 200 characters")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"Allow!","because":"","durationMs":1,"outcome":"ok"}""", "body[7].decision", "the gateway's decision")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"allow","durationMs":1,"outcome":"ok"}""", "body[7].because", "reason for the decision")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"allow","because":"","durationMs":-1,"outcome":"ok"}""", "body[7].durationMs", "from 0 to")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"allow","because":"","durationMs":"1","outcome":"ok"}""", "body[7].durationMs", "in milliseconds")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"allow","because":"","durationMs":1}""", "body[7].outcome", "the call's outcome")]
    [InlineData("""{"id":"e","time":"2026-03-02T09:29:00Z","server":"s","tool":"t","decision":"allow","because":"","durationMs":1,"outcome":"ok","arguments":[1]}""", "body[7].arguments", "as an object, or null")]
    public void A_bad_event_is_refused_naming_its_field(string json, string location, string message)
    {
        var (id, _, problem) = ToolCallWire.Read(Parse(json), "body[7]", Now);
        Assert.Null(id);
        Assert.NotNull(problem);
        Assert.Equal(location, problem.Location);
        Assert.Contains(message, problem.Message, StringComparison.Ordinal);
    }
}
