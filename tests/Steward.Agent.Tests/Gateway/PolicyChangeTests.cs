using System.Diagnostics;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Core.Admission;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// What runs follows the policy: removal terminates, a version bump relaunches, an unapproved server never starts,
/// MCP or web tools turned off serve nothing. The pypi and oci launch plans run through the uvx and docker shims.
/// </summary>
public sealed class PolicyChangeTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private static McpClientOptions Listening(TaskCompletionSource listChanged) => new()
    {
        Handlers = new McpClientHandlers
        {
            NotificationHandlers = [new(NotificationMethods.ToolListChangedNotification, (_, _) =>
            {
                listChanged.TrySetResult();
                return ValueTask.CompletedTask;
            })],
        },
    };

    [NodeFact]
    public async Task Removal_from_the_registry_terminates_the_upstream_process_and_sends_list_changed()
    {
        var log = Path.Combine(GatewayHarness.TempDirectory(), "uvx.argv");
        var listChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var kept = Fixtures.EverythingNpm();
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config(("py", Shims.Entry("uvx", ["everything-py==1.0.0"], log)), (Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([Fixtures.Pypi("py", "everything-py", "1.0.0"), kept]), clientOptions: Listening(listChanged));
        Assert.Contains("py__echo", (await harness.Client.ListToolsAsync()).Select(t => t.Name));
        var (pid, argv) = Shims.Read(log)!.Value;
        Assert.Equal(["everything-py==1.0.0"], argv);
        using var process = Process.GetProcessById(pid);

        await harness.Gateway.ApplyPolicyAsync(Fixtures.Policy([kept])).WaitAsync(Guard);

        await process.WaitForExitAsync().WaitAsync(Guard);
        await listChanged.Task.WaitAsync(Guard);
        var names = (await harness.Client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.DoesNotContain("py__echo", names);
        Assert.Contains("everything__echo", names);
        Assert.Contains(harness.Gateway.Status.Refused, r => r.Name == "py" && r.ReasonCode == AdmissionReasons.NotInRegistry);
    }

    [NodeFact]
    public async Task A_version_bump_relaunches_the_server_at_the_new_version()
    {
        var log = Path.Combine(GatewayHarness.TempDirectory(), "uvx.argv");
        var listChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var v1 = Fixtures.Pypi("py", "everything-py", "1.0.0");
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config(("py", Shims.Entry("uvx", ["everything-py==1.0.0"], log))),
            Fixtures.Policy([v1]), clientOptions: Listening(listChanged));
        var (oldPid, _) = Shims.Read(log)!.Value;
        using var old = Process.GetProcessById(oldPid);

        await harness.Gateway.ApplyPolicyAsync(Fixtures.Policy([v1, Fixtures.Pypi("py", "everything-py", "1.1.0")])).WaitAsync(Guard);

        await old.WaitForExitAsync().WaitAsync(Guard);
        var (newPid, argv) = Shims.Read(log)!.Value;
        Assert.NotEqual(oldPid, newPid);
        Assert.Equal(["everything-py==1.1.0"], argv);
        await listChanged.Task.WaitAsync(Guard);
        Assert.Equal("Echo: relaunched", ServerEverythingThroughGatewayTests.Text(
            await harness.Client.CallToolAsync("py__echo", new Dictionary<string, object?> { ["message"] = "relaunched" })));
    }

    [NodeFact]
    public async Task An_unapproved_server_is_never_started_and_an_oci_image_runs_by_the_docker_plan()
    {
        var directory = GatewayHarness.TempDirectory();
        var rogue = Path.Combine(directory, "rogue.argv");
        var wrongVersion = Path.Combine(directory, "wrong-version.argv");
        var oci = Path.Combine(directory, "docker.argv");
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config(
                ("rogue", Shims.Entry("uvx", ["rogue-server==6.6.6"], rogue)),
                ("py", Shims.Entry("uvx", ["everything-py==9.9.9"], wrongVersion)),
                ("box", Shims.Entry("docker", ["run", "-i", "--rm", "example/everything:2.0.0"], oci))),
            Fixtures.Policy([Fixtures.Pypi("py", "everything-py", "1.0.0"), Fixtures.Oci("box", "example/everything", "2.0.0")]));

        Assert.False(File.Exists(rogue));
        Assert.False(File.Exists(wrongVersion));
        Assert.Equal(["run", "-i", "--rm", "example/everything:2.0.0"], Shims.Read(oci)!.Value.Argv);
        Assert.Equal(["box"], harness.Gateway.Status.Running.ToArray());
        Assert.Contains(harness.Gateway.Status.Refused, r => r.Name == "rogue" && r.ReasonCode == AdmissionReasons.NotInRegistry);
        Assert.Contains(harness.Gateway.Status.Refused, r => r.Name == "py" && r.ReasonCode == AdmissionReasons.VersionNotApproved);
        Assert.All((await harness.Client.ListToolsAsync()).Select(t => t.Name), n => Assert.StartsWith("box__", n, StringComparison.Ordinal));
    }

    [NodeFact]
    public async Task With_mcp_disabled_no_upstream_runs_and_the_host_is_told_why()
    {
        var log = Path.Combine(GatewayHarness.TempDirectory(), "uvx.argv");
        var notice = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = [new("notifications/message", (n, _) =>
                {
                    if (n.Params?["logger"]?.GetValue<string>() == "steward")
                    {
                        notice.TrySetResult(n.Params["data"]!.GetValue<string>());
                    }

                    return ValueTask.CompletedTask;
                })],
            },
        };
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config(("py", Shims.Entry("uvx", ["everything-py==1.0.0"], log))),
            new PolicyState.Disabled("the policy bundle failed verification.", "Run steward sync."), clientOptions: options);

        Assert.Contains("failed verification", await notice.Task.WaitAsync(Guard));
        Assert.Empty(await harness.Client.ListToolsAsync());
        Assert.False(File.Exists(log));
        var refused = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => harness.Client.CallToolAsync("py__echo").AsTask());
        Assert.Contains("MCP is disabled", refused.Message);
        Assert.Contains("failed verification", harness.Gateway.Status.Notice);
    }

    [NodeFact]
    public async Task With_web_tools_disabled_a_server_marked_as_a_web_tool_is_not_started()
    {
        var directory = GatewayHarness.TempDirectory();
        var web = Path.Combine(directory, "web.argv");
        var other = Path.Combine(directory, "other.argv");
        var mark = JsonSerializer.SerializeToElement(new Dictionary<string, bool> { [AdmissionPlanner.WebToolMetaKey] = true });
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config(("web", Shims.Entry("uvx", ["web-search==1.0.0"], web)), ("other", Shims.Entry("uvx", ["other-server==1.0.0"], other))),
            Fixtures.Policy([Fixtures.Pypi("web", "web-search", "1.0.0", mark), Fixtures.Pypi("other", "other-server", "1.0.0")], webTools: false));

        Assert.False(File.Exists(web));
        Assert.True(File.Exists(other));
        Assert.Contains(harness.Gateway.Status.Refused, r => r.Name == "web" && r.ReasonCode == GatewayReasons.WebToolsDisabled);
    }

    [NodeFact]
    public async Task A_server_that_fails_to_start_is_reported_and_does_not_block_the_others()
    {
        var log = Path.Combine(GatewayHarness.TempDirectory(), "uvx.argv");
        var broken = Fixtures.EverythingConfig() with { Env = [new("PATH", "${STEWARD_TEST_UNSET_VARIABLE}")] };
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, broken), ("py", Shims.Entry("uvx", ["everything-py==1.0.0"], log))),
            Fixtures.Policy([Fixtures.EverythingNpm(), Fixtures.Pypi("py", "everything-py", "1.0.0")]));

        var failure = Assert.Single(harness.Gateway.Status.Failed);
        Assert.Equal(Fixtures.EverythingName, failure.Name);
        Assert.Contains("STEWARD_TEST_UNSET_VARIABLE", failure.Message);
        Assert.Equal(["py"], harness.Gateway.Status.Running.ToArray());
        Assert.Contains("py__echo", (await harness.Client.ListToolsAsync()).Select(t => t.Name));
    }
}
