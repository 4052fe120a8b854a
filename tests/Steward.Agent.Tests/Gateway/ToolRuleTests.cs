using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Audit;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Core.Policy;

namespace Steward.Agent.Tests.Gateway;

/// <summary>Tool decisions through a real gateway and server: one decision for tools/list and tools/call, ask by elicitation, audit lines.</summary>
public sealed class ToolRuleTests
{
    [NodeFact]
    public async Task An_admin_denied_tool_is_absent_from_the_list_and_refused_on_call_and_audited()
    {
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig(disabledTools: ["get-sum"]))),
            Fixtures.Policy([Fixtures.EverythingNpm()], [new ToolRule("everything/get-env", ToolRuleEffect.Deny), new ToolRule("*/get-*", ToolRuleEffect.Allow)]),
            server: Fixtures.EverythingName);

        var names = (await harness.Client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.DoesNotContain("get-env", names);
        Assert.DoesNotContain("get-sum", names);
        Assert.Contains("echo", names);
        var denied = await Assert.ThrowsAsync<McpProtocolException>(() => harness.Client.CallToolAsync("get-env").AsTask());
        Assert.Contains("denied by your organisation's policy", denied.Message);
        var disabled = await Assert.ThrowsAsync<McpProtocolException>(() =>
            harness.Client.CallToolAsync("get-sum", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 }).AsTask());
        Assert.Contains("disabledTools", disabled.Message);
        await harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "secret-value" });

        var lines = AuditFile.Final(harness.AuditLog).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["deny", "disabled", "allow"], lines.Select(l => l.GetProperty("decision").GetString()));
        Assert.Equal(["refused", "refused", "ok"], lines.Select(l => l.GetProperty("outcome").GetString()));
        Assert.All(lines, l => Assert.Equal(Fixtures.EverythingName, l.GetProperty("server").GetString()));
        Assert.All(lines, l => Assert.True(l.GetProperty("durationMs").GetDouble() >= 0));
        Assert.DoesNotContain("secret-value", File.ReadAllText(harness.AuditLog));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(harness.AuditLog));
        }
    }

    [NodeFact]
    public async Task Argument_values_are_audited_only_when_the_policy_enables_it()
    {
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([Fixtures.EverythingNpm()], auditArguments: true), server: Fixtures.EverythingName);
        await harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "audited-value" });
        var line = JsonDocument.Parse(AuditFile.Final(harness.AuditLog).Single()).RootElement;
        Assert.Equal("audited-value", line.GetProperty("arguments").GetProperty("message").GetString());
    }

    [NodeFact]
    public async Task A_host_without_elicitation_meeting_an_ask_tool_gets_a_clear_refusal()
    {
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([Fixtures.EverythingNpm()], [new ToolRule("everything/echo", ToolRuleEffect.Ask)]));

        Assert.Contains("everything__echo", (await harness.Client.ListToolsAsync()).Select(t => t.Name));
        var result = await harness.Client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "hi" });
        Assert.True(result.IsError);
        Assert.Contains("cannot ask for it (it does not support elicitation)", ServerEverythingThroughGatewayTests.Text(result));
        Assert.Equal("ask-unavailable", JsonDocument.Parse(File.ReadAllLines(harness.AuditLog).Single()).RootElement.GetProperty("decision").GetString());
    }

    /// <summary>
    /// The approval is asked as an elicitation request of a session (2025-11-25), and as an <c>input_required</c> round
    /// of a stateless host (2026-07-28, the SDK's default), which the SDK's client answers and retries.
    /// </summary>
    [NodeTheory]
    [InlineData("2025-11-25")]
    [InlineData(null)]
    public async Task An_ask_tool_runs_when_the_host_approves_and_not_when_it_declines_and_auto_approve_skips_the_question(string? revision)
    {
        var answers = new Queue<bool>([true, false]);
        var questions = 0;
        var options = new McpClientOptions
        {
            ProtocolVersion = revision,
            Handlers = new McpClientHandlers
            {
                ElicitationHandler = (request, _) =>
                {
                    questions++;
                    Assert.Contains("echo", request!.Message);
                    var approve = answers.Dequeue();
                    return ValueTask.FromResult(new ElicitResult
                    {
                        Action = "accept",
                        Content = new Dictionary<string, JsonElement> { ["approve"] = JsonSerializer.SerializeToElement(approve) },
                    });
                },
            },
        };
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig(autoApprove: ["get-sum"]))),
            Fixtures.Policy([Fixtures.EverythingNpm()], [new ToolRule("everything/*", ToolRuleEffect.Ask)]), clientOptions: options);
        Assert.Equal(revision ?? "2026-07-28", harness.Client.NegotiatedProtocolVersion);

        var approved = await harness.Client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "yes" });
        Assert.Equal("Echo: yes", ServerEverythingThroughGatewayTests.Text(approved));
        var declined = await harness.Client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "no" });
        Assert.True(declined.IsError);
        Assert.Contains("not approved", ServerEverythingThroughGatewayTests.Text(declined));
        var auto = await harness.Client.CallToolAsync("everything__get-sum", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 1 });
        Assert.Contains("2", ServerEverythingThroughGatewayTests.Text(auto));
        Assert.Equal(2, questions);
        Assert.Equal(["ask-approved", "ask-declined", "allow"],
            AuditFile.Final(harness.AuditLog).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("decision").GetString()));
    }

    [Theory]
    [InlineData("everything/get-env", "everything/get-env", true)]
    [InlineData("everything/*", "everything/get-env", true)]
    [InlineData("*/get-*", "everything/get-env", true)]
    [InlineData("*", "everything/get-env", true)]
    [InlineData("every?hing/echo", "everything/echo", true)]
    [InlineData("everything/get", "everything/get-env", false)]
    [InlineData("other/*", "everything/get-env", false)]
    [InlineData("Everything/*", "everything/get-env", false)]
    public void Globs_match_server_slash_tool(string pattern, string text, bool matches) =>
        Assert.Equal(matches, ToolDecisions.Glob(pattern, text));

    [Fact]
    public void Deny_wins_over_allow_and_ask_whatever_the_order_and_auto_approve_cannot_override_it()
    {
        var decisions = new ToolDecisions([
            new ToolRule("*", ToolRuleEffect.Allow),
            new ToolRule("fs/*", ToolRuleEffect.Ask),
            new ToolRule("fs/delete", ToolRuleEffect.Deny),
        ]);
        Assert.Equal(ToolVerdict.Deny, decisions.Decide("fs", null, "delete", null, ["delete", "*"]).Verdict);
        Assert.Equal(ToolVerdict.Ask, decisions.Decide("fs", null, "read", null, null).Verdict);
        Assert.Equal(ToolVerdict.Allow, decisions.Decide("fs", null, "read", null, ["read"]).Verdict);
        Assert.Equal(ToolVerdict.Allow, decisions.Decide("web", null, "fetch", null, null).Verdict);
        Assert.Equal(ToolVerdict.Disabled, decisions.Decide("web", null, "fetch", ["fetch"], null).Verdict);
        Assert.Equal(ToolVerdict.Deny, decisions.Decide("my-fs", "fs", "delete", null, null).Verdict);
    }
}
