using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Steward.Core.Policy;
using Steward.Core.Sandbox;

namespace Steward.Core.Tests.Policy;

/// <summary>
/// The bundle payload's one reader and writer: a payload as servers before tool rules wrote it is read and written back
/// byte for byte (so its ETag and signature input do not change); tool rules round-trip and are written only when
/// there are some; the registry is loaded from the payload's own document; bad tool rules refuse the payload naming
/// their path.
/// </summary>
public sealed class BundlePayloadTests
{
    private const string Server = """{"$schema":"https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json","name":"io.example/fs","description":"Files – with a dash","version":"1.0.0","packages":[{"registryType":"npm","registryBaseUrl":"https://registry.npmjs.org","identifier":"@example/fs","version":"1.0.0","transport":{"type":"stdio"}}]}""";

    private const string Meta = """{"io.modelcontextprotocol.registry/official":{"status":"active","statusChangedAt":"2026-01-01T00:00:00Z","publishedAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","isLatest":true}}""";

    /// <summary>A payload exactly as the server wrote it before tool rules existed (member order, compact, relaxed escaping).</summary>
    private static readonly string Legacy =
        "{\"sub\":\"demo/a/web\",\"iat\":1767225600,\"exp\":1768435200,\"revision\":\"7.2\",\"organisation\":\"demo\",\"account\":\"web\"," +
        "\"profile\":{\"scope\":\"account\",\"mcpEnabled\":false,\"webToolsEnabled\":true,\"registryMode\":\"hosted\",\"registryUrl\":null,\"syncIntervalSeconds\":86400," +
        "\"maxOfflineAgeSeconds\":null,\"modelControlEnabled\":true,\"auditToolArguments\":false,\"emergencyStop\":{\"reason\":\"incident \\\"INC-42\\\"\",\"since\":\"2026-01-01T10:00:00Z\"}}," +
        $"\"registry\":{{\"servers\":[{{\"server\":{Server},\"_meta\":{Meta}}}],\"metadata\":{{\"count\":1}}}}," +
        "\"models\":[{\"id\":\"claude-sonnet\",\"displayName\":\"Claude Sonnet\",\"available\":true,\"default\":true}]," +
        "\"sandbox\":{\"default\":null,\"servers\":{}}," +
        $"\"withdrawn\":{{\"servers\":[{{\"server\":{Server.Replace("1.0.0", "0.9.0", StringComparison.Ordinal)},\"_meta\":{Meta.Replace("active", "deprecated", StringComparison.Ordinal)}}}],\"metadata\":{{\"count\":1}}}}}}";

    [Fact]
    public void A_payload_written_before_tool_rules_is_read_and_written_back_byte_for_byte()
    {
        var reading = BundlePayload.Read(Encoding.UTF8.GetBytes(Legacy));
        Assert.Null(reading.Error);
        var payload = reading.Payload!;
        Assert.Equal("demo/a/web", payload.Subject);
        Assert.Equal("incident \"INC-42\"", payload.Profile.EmergencyStop!.Reason);
        Assert.Empty(payload.Profile.ToolRules);
        Assert.True(reading.Registry!.IsValid);
        Assert.Equal("io.example/fs", Assert.Single(reading.Registry.Document!.Entries).Server.Name);
        Assert.Equal("0.9.0", Assert.Single(reading.Withdrawn!.Document!.Entries).Server.Version);
        Assert.Equal(Legacy, Encoding.UTF8.GetString(payload.ToUtf8()));
    }

    [Fact]
    public void Tool_rules_round_trip_in_order_with_their_reasons_and_are_left_out_when_there_are_none()
    {
        var profile = new BundleProfile("organisation", true, true, "hosted", null, 3600, 7200)
        {
            ToolRules = [new ToolRule("io.example/fs/delete", ToolRuleEffect.Deny, "deletes need a ticket"), new ToolRule("*/write_*", ToolRuleEffect.Ask), new ToolRule("*", ToolRuleEffect.Allow)],
        };
        var written = new BundlePayload("demo", 100, 200, "3", "demo", null, profile)
        {
            Sandbox = new SandboxPolicy(null, ImmutableDictionary<string, SandboxProfile>.Empty),
        }.ToUtf8();
        var text = Encoding.UTF8.GetString(written);
        Assert.Contains("\"auditToolArguments\":false,\"toolRules\":[{\"pattern\":\"io.example/fs/delete\",\"effect\":\"deny\",\"reason\":\"deletes need a ticket\"},{\"pattern\":\"*/write_*\",\"effect\":\"ask\"},{\"pattern\":\"*\",\"effect\":\"allow\"}]}", text, StringComparison.Ordinal);
        Assert.Contains("\"registry\":null", text, StringComparison.Ordinal);

        var read = BundlePayload.Read(written);
        Assert.Null(read.Error);
        Assert.Equal(profile.ToolRules, read.Payload!.Profile.ToolRules);
        Assert.Null(read.Registry);
        Assert.Equal(written, read.Payload.ToUtf8());

        var none = new BundlePayload("demo", 100, 200, "3", "demo", null, profile with { ToolRules = [] }).ToUtf8();
        Assert.DoesNotContain("toolRules", Encoding.UTF8.GetString(none), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"pattern":"a/b","effect":"maybe"}]""", "$.profile.toolRules[0].effect")]
    [InlineData("""[{"pattern":"a/b","effect":"deny"},{"effect":"deny"}]""", "$.profile.toolRules[1].pattern")]
    [InlineData("""{"pattern":"a/b"}""", "$.profile.toolRules")]
    public void A_payload_with_an_invalid_tool_rule_is_refused_naming_the_rule(string rules, string path)
    {
        var payload = """{"revision":"1","profile":{"mcpEnabled":true,"webToolsEnabled":true,"registryMode":"hosted","syncIntervalSeconds":86400,"toolRules":""" + rules + "}}";
        var read = BundlePayload.Read(Encoding.UTF8.GetBytes(payload));
        Assert.Null(read.Payload);
        Assert.Contains(path, read.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_registry_inside_the_payload_is_reported_by_the_one_load()
    {
        var payload = """{"revision":"1","profile":{"mcpEnabled":true,"webToolsEnabled":true,"registryMode":"hosted","syncIntervalSeconds":86400},"registry":{"servers":[{"server":{"name":"no-slash"}}]}}""";
        var read = BundlePayload.Read(Encoding.UTF8.GetBytes(payload));
        Assert.Null(read.Error);
        Assert.False(read.Registry!.IsValid);
        Assert.NotEmpty(read.Registry.Problems);
    }

    [Theory]
    [InlineData("*", null)]
    [InlineData("io.example/fs/delete_*", null)]
    [InlineData("", "1 to 300")]
    [InlineData("delete", "server/tool")]
    [InlineData("a/\tb", "no spaces")]
    public void Patterns_are_checked_with_a_way_to_fix_them(string pattern, string? problem)
    {
        var why = ToolRuleList.CheckPattern(pattern);
        if (problem is null)
        {
            Assert.Null(why);
        }
        else
        {
            Assert.Contains(problem, why, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_decision_names_the_rule_its_origin_and_reason_and_deny_wins_across_origins()
    {
        var decisions = new ToolDecisions([
            new ToolRule("fs/*", ToolRuleEffect.Ask, "writes are reviewed"),
            new ToolRule("io.example/fs/delete", ToolRuleEffect.Deny) { Origin = ToolRuleOrigin.LocalFile },
        ]);
        var deny = decisions.Decide("fs", "io.example/fs", "delete", null, ["delete"]);
        Assert.Equal(ToolVerdict.Deny, deny.Verdict);
        Assert.Equal("rule io.example/fs/delete", deny.Because);
        Assert.Contains("the local policy file", deny.Explanation, StringComparison.Ordinal);
        var ask = decisions.Decide("fs", "io.example/fs", "write", null, null);
        Assert.Equal(ToolVerdict.Ask, ask.Verdict);
        Assert.Equal("ask rule \"fs/*\" of your organisation's profile: writes are reviewed", ask.Explanation);
        Assert.Equal("no rule matches it: tools are allowed by default", decisions.Decide("web", null, "fetch", null, null).Explanation);
    }

    [Fact]
    public void The_rule_list_reader_is_the_same_JSON_the_writer_makes()
    {
        ToolRule[] rules = [new("a/b", ToolRuleEffect.Deny, "r"), new("c/*", ToolRuleEffect.Ask)];
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            ToolRule.WriteList(writer, rules);
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        Assert.Equal(rules, ToolRuleList.Read(document.RootElement).Rules);
    }

    [Fact]
    public void A_registry_given_as_a_null_array_is_written_as_no_registry()
    {
        byte[]? none = null;
        var payload = new BundlePayload("demo", 1, 2, "1", "demo", null, new BundleProfile("organisation", true, true, "external", "https://r.example", 60, null))
        {
            Registry = none,
        };
        Assert.Contains("\"registry\":null", Encoding.UTF8.GetString(payload.ToUtf8()), StringComparison.Ordinal);
    }
}
