using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// A running gateway following the real Steward server's policy fails closed: when the server refuses its token, when
/// the bundle's <c>exp</c> passes between two syncs, and it keeps a newer policy when an older cache is put back.
/// </summary>
public sealed class FailClosedGatewayTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private static async Task<LoginResult> LoginAsync(TempConfig config, StewardServerHost server, string token, TimeProvider time, TimeSpan? maxOfflineAge = null)
    {
        using var fetcher = new PolicyFetcher();
        var login = await Login.LoginAsync(config.Paths, new LoginRequest(server.BaseUrl, null, token, true, maxOfflineAge ?? TimeSpan.FromDays(7), config.Workspace),
            fetcher, time, CancellationToken.None);
        Assert.True(login.Succeeded, login.Error);
        return login;
    }

    /// <summary>Client options that hand every notice of the <c>steward</c> logger to <paramref name="notices"/>.</summary>
    private static McpClientOptions Notices(Action<string> notices) => new()
    {
        Handlers = new McpClientHandlers
        {
            NotificationHandlers = [new("notifications/message", (n, _) =>
            {
                if (n.Params?["logger"]?.GetValue<string>() == "steward")
                {
                    notices(n.Params["data"]!.GetValue<string>());
                }

                return ValueTask.CompletedTask;
            })],
        },
    };

    private static async Task<IEnumerable<string>> ToolsAsync(GatewayHarness harness) => (await harness.Client.ListToolsAsync()).Select(t => t.Name);

    [NodeFact]
    public async Task A_token_revoked_while_the_gateway_runs_disables_it_at_the_next_sync_with_the_reason_in_tools_list_calls_the_log_and_status()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        var (token, id) = await server.DeveloperTokenWithIdAsync();
        using var config = new TempConfig();
        await LoginAsync(config, server, token, time);
        var log = new ListLogger();
        using var sync = new PolicySync(config.Paths, time, environment: _ => null, logger: log);
        var refusedNotice = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var harness = await GatewayHarness.StartAsync(Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())), sync.Current,
            server: Fixtures.EverythingName, clientOptions: Notices(text =>
            {
                if (text.Contains("refused this machine's token", StringComparison.Ordinal))
                {
                    refusedNotice.TrySetResult(text);
                }
            }));
        Assert.Contains("echo", await ToolsAsync(harness));
        var disabled = new TaskCompletionSource<PolicyState.Disabled>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var feed = PolicyFeed.FollowSync(harness.Gateway, sync, config.Paths, log);
        feed.StateApplied += (_, state) =>
        {
            if (state is PolicyState.Disabled d)
            {
                disabled.TrySetResult(d);
            }
        };

        await server.RevokeTokenAsync(id);
        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Rejected, result.Outcome);
        var applied = await disabled.Task.WaitAsync(Guard);
        Assert.Contains("refused this machine's token (401: it is unknown, expired or revoked)", applied.Reason);
        Assert.Empty(await harness.Client.ListToolsAsync());
        Assert.Contains("refused this machine's token", await refusedNotice.Task.WaitAsync(Guard));
        Assert.Contains("refused this machine's token", harness.Gateway.Status.Notice);
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "hi" }).AsTask());
        Assert.Contains("MCP is disabled", refused.Message);
        Assert.Contains("refused this machine's token", refused.Message);
        Assert.Contains(log.Messages, m => m.Contains("refused this machine's token (401); MCP is disabled", StringComparison.Ordinal));
        // `steward mcp status` reads the same files in its own process.
        using var status = new PolicySync(config.Paths, time, environment: _ => null);
        Assert.Contains("refused this machine's token", Assert.IsType<PolicyState.Disabled>(status.Current).Reason);
    }

    [NodeFact]
    public async Task The_bundles_exp_passing_while_the_gateway_runs_stops_its_tools_on_a_timer_without_a_sync()
    {
        var start = DateTimeOffset.UtcNow;
        var clock = new TimerClock(start);
        await using var server = await StewardServerHost.StartAsync(new ManualTime(start));
        using var config = new TempConfig();
        // A login offline age longer than the bundle's validity: exp is what ends it.
        var login = await LoginAsync(config, server, await server.DeveloperTokenAsync(), clock, TimeSpan.FromDays(30));
        var requests = new CountingHandler();
        using var fetcher = new PolicyFetcher(requests);
        using var sync = new PolicySync(config.Paths, clock, fetcher, environment: _ => null);
        await using var harness = await GatewayHarness.StartAsync(Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())), sync.Current,
            server: Fixtures.EverythingName);
        var announced = new TaskCompletionSource<PolicyState>(TaskCreationOptions.RunContinuationsAsynchronously);
        sync.StateChanged += (_, e) => announced.TrySetResult(e.State);
        using var watch = sync.WatchDeadlines();
        Assert.Equal(1, clock.Armed);

        clock.Advance(login.ExpiresAt!.Value - clock.GetUtcNow() - TimeSpan.FromSeconds(1));
        Assert.False(announced.Task.IsCompleted);
        Assert.Contains("echo", await ToolsAsync(harness));
        clock.Advance(TimeSpan.FromSeconds(2));

        // What the gateway's feed does with every announced state.
        var state = Assert.IsType<PolicyState.Disabled>(await announced.Task.WaitAsync(Guard));
        await harness.Gateway.ApplyPolicyAsync(state).WaitAsync(Guard);
        Assert.Contains("expired at", state.Reason);
        Assert.Equal(0, requests.Count);
        Assert.Empty(await harness.Client.ListToolsAsync());
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "hi" }).AsTask());
        Assert.Contains("expired at", refused.Message);
    }

    [NodeFact]
    public async Task An_older_cache_put_back_while_the_gateway_runs_is_ignored_and_the_newer_policy_stays_in_force()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();
        await LoginAsync(config, server, await server.DeveloperTokenAsync(), time);
        var older = File.ReadAllBytes(config.Paths.PolicyCache);
        var log = new ListLogger();
        using var sync = new PolicySync(config.Paths, time, environment: _ => null, logger: log);
        await using var harness = await GatewayHarness.StartAsync(Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())), sync.Current,
            server: Fixtures.EverythingName);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        Assert.Equal(SyncOutcome.Updated, (await sync.SyncAsync(CancellationToken.None)).Outcome);
        var newer = Assert.IsType<PolicyState.Active>(sync.Current).Snapshot.Revision;
        // The feed syncs at once in the background; with the server reachable, that sync's own rewrite of the cache could
        // land right after the restore and replace it before the watcher reads it. With the server gone it writes nothing.
        await server.StopAsync();
        var ignored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var feed = PolicyFeed.FollowSync(harness.Gateway, sync, config.Paths, log);
        feed.OlderCacheIgnored += (_, _) => ignored.TrySetResult();

        // Put back as a backup restore would (a rename over the cache).
        var temp = config.Paths.PolicyCache + ".restore";
        File.WriteAllBytes(temp, older);
        File.Move(temp, config.Paths.PolicyCache, overwrite: true);

        await ignored.Task.WaitAsync(Guard);
        Assert.Contains(log.Messages, m => m.Contains("older than the one this gateway applied", StringComparison.Ordinal));
        Assert.Equal(newer, Assert.IsType<PolicyState.Active>(sync.Current).Snapshot.Revision);
        Assert.Null(harness.Gateway.Status.Notice);
        Assert.Contains("echo", await ToolsAsync(harness));
    }

    /// <summary>Counts the requests the agent sends to the server.</summary>
    private sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        private int count;

        public int Count => Volatile.Read(ref count);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref count);
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<string> messages = [];

        public IReadOnlyList<string> Messages
        {
            get
            {
                lock (messages)
                {
                    return [.. messages];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (messages)
            {
                messages.Add(formatter(state, exception));
            }
        }
    }
}
