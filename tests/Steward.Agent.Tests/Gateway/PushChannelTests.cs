using System.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// The change channel end to end: an admin change on the real Steward server reaches a running gateway (a real
/// server-everything upstream, the SDK client as host) through <c>GET /api/v1/policy/events</c>, with the profile's sync
/// interval set to a day so that only the channel can explain it; the channel lost with the server and held again; two
/// instances on one PostgreSQL database. No duration is asserted: each effect is awaited with a generous guard.
/// </summary>
public sealed class PushChannelTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);
    private const string EverythingEntry = "io.github.modelcontextprotocol/server-everything";
    private const string OneDayInterval = """{"syncIntervalSeconds":86400}""";

    /// <summary>A gateway following a Steward server's policy as <c>steward gateway</c> does (<see cref="PolicyFeed.FollowSync"/>), serving server-everything.</summary>
    private sealed class Following : IAsyncDisposable
    {
        private readonly TempConfig config;

        private Following(TempConfig config, PolicySync sync, GatewayHarness harness, PolicyFeed feed, TaskCompletionSource opened, ListLogger log, SemaphoreSlim listChanged)
        {
            this.config = config;
            Sync = sync;
            Harness = harness;
            Feed = feed;
            Opened = opened;
            Log = log;
            ListChanged = listChanged;
        }

        public PolicySync Sync { get; }
        public StewardPaths Paths => config.Paths;
        public GatewayHarness Harness { get; }
        public PolicyFeed Feed { get; }
        public TaskCompletionSource Opened { get; }
        public ListLogger Log { get; }
        public SemaphoreSlim ListChanged { get; }

        public static async Task<Following> StartAsync(string baseUrl, string token)
        {
            var config = new TempConfig();
            using (var fetcher = new PolicyFetcher())
            {
                var login = await Login.LoginAsync(config.Paths, new LoginRequest(baseUrl, null, token, true, TimeSpan.FromDays(7), config.Workspace),
                    fetcher, TimeProvider.System, CancellationToken.None);
                Assert.True(login.Succeeded, login.Error);
            }

            var log = new ListLogger();
            var sync = new PolicySync(config.Paths, TimeProvider.System, environment: _ => null, logger: log);
            Assert.Equal(TimeSpan.FromDays(1), Assert.IsType<PolicyState.Active>(sync.Current).Snapshot.SyncInterval);
            var listChanged = new SemaphoreSlim(0);
            var harness = await GatewayHarness.StartAsync(Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())), sync.Current,
                server: Fixtures.EverythingName, clientOptions: new McpClientOptions
                {
                    Handlers = new McpClientHandlers
                    {
                        NotificationHandlers = [new(NotificationMethods.ToolListChangedNotification, (_, _) =>
                        {
                            listChanged.Release();
                            return ValueTask.CompletedTask;
                        })],
                    },
                });
            var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            sync.ChannelEventReceived += (_, _) => opened.TrySetResult();
            var feed = PolicyFeed.FollowSync(harness.Gateway, sync, config.Paths, log);
            await opened.Task.WaitAsync(Guard);
            return new Following(config, sync, harness, feed, opened, log, listChanged);
        }

        public async Task<IReadOnlyList<string>> ToolsAsync() => [.. (await Harness.Client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name)];

        /// <summary>Waits until the host's tools list satisfies <paramref name="done"/>: each tools/list_changed is a moment to look again.</summary>
        public async Task UntilToolsAsync(Func<IReadOnlyList<string>, bool> done)
        {
            var elapsed = Stopwatch.StartNew();
            while (!done(await ToolsAsync()))
            {
                Assert.True(await ListChanged.WaitAsync(Guard - elapsed.Elapsed), "no tools/list_changed came within the guard");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Feed.DisposeAsync();
            await Harness.DisposeAsync();
            Sync.Dispose();
            config.Dispose();
        }
    }

    [NodeFact]
    public async Task A_registry_entry_deleted_reaches_the_running_gateway_through_the_channel_and_its_upstream_process_is_terminated()
    {
        await using var server = await StewardServerHost.StartAsync(TimeProvider.System);
        await server.PutProfileAsync(OneDayInterval);
        await using var gateway = await Following.StartAsync(server.BaseUrl, await server.DeveloperTokenAsync());
        Assert.Contains("echo", await gateway.ToolsAsync());
        var upstreams = UpstreamProcesses.Everything();
        Assert.NotEmpty(upstreams);

        await server.DeleteVersionAsync(EverythingEntry, NodePackages.ServerEverythingVersion);

        foreach (var process in upstreams)
        {
            await process.WaitForExitAsync().WaitAsync(Guard);
        }

        await gateway.UntilToolsAsync(tools => tools.Count == 0);
        Assert.Contains(gateway.Log.Messages, m => m.Contains("announced a policy change", StringComparison.Ordinal));
    }

    [NodeFact]
    public async Task MCP_turned_off_in_the_profile_and_then_the_token_revoked_reach_the_running_gateway_through_the_channel()
    {
        await using var server = await StewardServerHost.StartAsync(TimeProvider.System);
        await server.PutProfileAsync(OneDayInterval);
        var (token, id) = await server.DeveloperTokenWithIdAsync();
        await using var gateway = await Following.StartAsync(server.BaseUrl, token);
        Assert.Contains("echo", await gateway.ToolsAsync());

        await server.PutProfileAsync("""{"syncIntervalSeconds":86400,"mcpEnabled":false}""");
        await gateway.UntilToolsAsync(tools => tools.Count == 0);
        Assert.Contains("MCP is disabled by the profile", Assert.IsType<PolicyState.Disabled>(gateway.Sync.Current).Reason);

        await server.PutProfileAsync("""{"syncIntervalSeconds":86400,"mcpEnabled":true}""");
        await gateway.UntilToolsAsync(tools => tools.Contains("echo"));

        var refused = new TaskCompletionSource<ChannelEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        gateway.Sync.ChannelEventReceived += (_, e) =>
        {
            if (e.Name == "refetch")
            {
                refused.TrySetResult(e);
            }
        };
        await server.RevokeTokenAsync(id);
        await refused.Task.WaitAsync(Guard);
        await gateway.UntilToolsAsync(tools => tools.Count == 0);
        await UntilAsync(() => gateway.Harness.Gateway.Status.Notice?.Contains("refused this machine's token", StringComparison.Ordinal) == true);
    }

    [NodeFact]
    public async Task A_change_made_while_the_channel_is_down_is_caught_up_when_the_gateway_holds_it_again_after_the_server_restarts_on_its_port()
    {
        var port = StewardServerHost.FreePort();
        await using var server = await StewardServerHost.StartAsync(TimeProvider.System, port);
        await server.PutProfileAsync(OneDayInterval);
        await using var gateway = await Following.StartAsync(server.BaseUrl, await server.DeveloperTokenAsync());
        Assert.Contains("echo", await gateway.ToolsAsync());

        // The channel drops with the server; the gateway keeps its policy in force (the server is only unreachable).
        await server.StopAsync();
        await UntilAsync(() => gateway.Log.Messages.Any(m => m.Contains("change channel", StringComparison.Ordinal)
            && (m.Contains("was lost", StringComparison.Ordinal) || m.Contains("could not be opened", StringComparison.Ordinal))));
        Assert.Contains("echo", await gateway.ToolsAsync());

        // MCP is turned off while nothing listens at the gateway's address: no event can have carried it.
        await server.WhileAwayAsync(away => away.PutProfileAsync("""{"syncIntervalSeconds":86400,"mcpEnabled":false}"""));
        Assert.Contains("echo", await gateway.ToolsAsync());

        await server.StartAgainAsync();
        await gateway.UntilToolsAsync(tools => tools.Count == 0);
        Assert.Contains(gateway.Log.Messages, m => m.Contains("is open again", StringComparison.Ordinal));
        Assert.IsType<PolicyState.Disabled>(gateway.Sync.Current);
    }

    [NodeFact]
    public async Task The_emergency_stop_reaches_a_running_gateway_of_an_account_with_its_own_profile_with_the_admins_reason_and_lifting_it_starts_the_server_again()
    {
        await using var server = await StewardServerHost.StartAsync(TimeProvider.System);
        await server.PutProfileAsync(OneDayInterval);
        var token = await server.DeveloperTokenAsync("payments");
        using var admin = server.Client();
        // The account's own profile keeps MCP on: only the organisation-wide stop can turn it off for this developer.
        using (var own = await admin.PutAsync("api/v1/orgs/demo/accounts/payments/profile", Json("""{"syncIntervalSeconds":86400,"mcpEnabled":true}""")))
        {
            Assert.True(own.IsSuccessStatusCode, await own.Content.ReadAsStringAsync());
        }

        await using var gateway = await Following.StartAsync(server.BaseUrl, token);
        Assert.Contains("echo", await gateway.ToolsAsync());
        var upstreams = UpstreamProcesses.Everything();

        using (var stop = await admin.PutAsync("api/v1/orgs/demo/emergency-stop", Json("""{"reason":"incident INC-42: MCP stopped while we investigate"}""")))
        {
            Assert.True(stop.IsSuccessStatusCode, await stop.Content.ReadAsStringAsync());
        }

        foreach (var process in upstreams)
        {
            await process.WaitForExitAsync().WaitAsync(Guard);
        }

        await gateway.UntilToolsAsync(tools => tools.Count == 0);
        var disabled = Assert.IsType<PolicyState.Disabled>(gateway.Sync.Current);
        Assert.Contains("emergency stop: incident INC-42: MCP stopped while we investigate", disabled.Reason);
        await UntilAsync(() => gateway.Harness.Gateway.Status.Notice?.Contains("INC-42", StringComparison.Ordinal) == true);
        // What `steward mcp status` and `steward mcp add` read, in their own process.
        using (var status = new PolicySync(gateway.Paths, TimeProvider.System, environment: _ => null))
        {
            Assert.Contains("INC-42", Assert.IsType<PolicyState.Disabled>(status.Current).Reason);
        }

        using (var lift = await admin.DeleteAsync("api/v1/orgs/demo/emergency-stop"))
        {
            Assert.True(lift.IsSuccessStatusCode, await lift.Content.ReadAsStringAsync());
        }

        await gateway.UntilToolsAsync(tools => tools.Contains("echo"));
    }

    [NodeFact]
    public async Task The_admins_deletion_message_reaches_the_gateways_refusal_steward_mcp_status_and_steward_mcp_add_instead_of_not_in_the_registry()
    {
        await using var server = await StewardServerHost.StartAsync(TimeProvider.System);
        await server.PutProfileAsync(OneDayInterval);
        await using var gateway = await Following.StartAsync(server.BaseUrl, await server.DeveloperTokenAsync());
        Assert.Contains("echo", await gateway.ToolsAsync());

        using var admin = server.Client();
        var status = $"api/v1/orgs/demo/registry/servers/{Uri.EscapeDataString(EverythingEntry)}/versions/{NodePackages.ServerEverythingVersion}/status";
        using (var deleted = await admin.PatchAsync(status, Json("""{"status":"deleted","statusMessage":"incident INC-42: do not use until the fix ships"}""")))
        {
            Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        }

        await gateway.UntilToolsAsync(tools => tools.Count == 0);
        var refusal = Assert.Single(gateway.Harness.Gateway.Status.Refused, r => r.Name == Fixtures.EverythingName);
        Assert.Contains("was deleted by your organisation's Steward administrator: incident INC-42: do not use until the fix ships", refusal.Message);

        // `steward mcp status` and `steward mcp add` read the same synced policy in their own process.
        File.WriteAllText(gateway.Paths.UserMcpConfig, $$"""
            { "mcpServers": { "{{Fixtures.EverythingName}}": { "command": "npx", "args": ["-y", "{{NodePackages.ServerEverything}}@{{NodePackages.ServerEverythingVersion}}"] } } }
            """);
        using var reader = new PolicySync(gateway.Paths, TimeProvider.System, environment: _ => null);
        var manager = new Agent.Servers.ServerManager(gateway.Paths, gateway.Harness.Directory, reader.Current);
        var (report, error) = manager.Status();
        Assert.Null(error);
        var line = Assert.Single(report!.Servers, s => s.Name == Fixtures.EverythingName);
        Assert.Contains("INC-42", line.Message);
        var (_, refused) = manager.Resolve(EverythingEntry);
        Assert.Contains("was deleted by your organisation's Steward administrator: incident INC-42", refused);
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    [NodePostgresFact]
    public async Task A_change_committed_through_one_instance_reaches_a_gateway_holding_the_channel_of_another_instance_on_the_same_PostgreSQL()
    {
        await using var database = await AgentTestPostgres.CreateAsync();
        await using var first = await StewardServerHost.StartAsync(TimeProvider.System, database: database.ConnectionString);
        await using var second = await StewardServerHost.StartAsync(TimeProvider.System, database: database.ConnectionString, beside: first);
        await first.PutProfileAsync(OneDayInterval);
        var token = await first.DeveloperTokenAsync();
        await using var gateway = await Following.StartAsync(second.BaseUrl, token);
        Assert.Contains("echo", await gateway.ToolsAsync());
        var upstreams = UpstreamProcesses.Everything();

        await first.DeleteVersionAsync(EverythingEntry, NodePackages.ServerEverythingVersion);

        foreach (var process in upstreams)
        {
            await process.WaitForExitAsync().WaitAsync(Guard);
        }

        await gateway.UntilToolsAsync(tools => tools.Count == 0);
    }

    private static async Task UntilAsync(Func<bool> done)
    {
        var elapsed = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(elapsed.Elapsed < Guard, "the expected effect did not come within the guard");
            await Task.Delay(50);
        }
    }
}

/// <summary>The server-everything processes this test process started (its descendants), read from /proc.</summary>
internal static class UpstreamProcesses
{
    public static IReadOnlyList<Process> Everything()
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    parents[pid] = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                }
            }
        }

        var self = Environment.ProcessId;
        bool Descends(int pid)
        {
            for (var hops = 0; hops < 64 && parents.TryGetValue(pid, out var parent); hops++, pid = parent)
            {
                if (parent == self)
                {
                    return true;
                }
            }

            return false;
        }

        var found = new List<Process>();
        foreach (var pid in parents.Keys.Where(Descends))
        {
            try
            {
                var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
                if (cmdline.Contains("server-everything", StringComparison.Ordinal) && !cmdline.StartsWith("npm", StringComparison.Ordinal))
                {
                    found.Add(Process.GetProcessById(pid));
                }
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
            {
            }
        }

        return found;
    }
}

/// <summary>Skips (outside CI) unless both the npm packages and a PostgreSQL server (<c>STEWARD_TEST_POSTGRES</c>) are there.</summary>
internal sealed class NodePostgresFactAttribute : FactAttribute
{
    public const string Variable = "STEWARD_TEST_POSTGRES";

    public NodePostgresFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("CI") == "true")
        {
            return;
        }

        if (NodePackages.MissingReason is { } reason)
        {
            Skip = reason;
        }
        else if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable)))
        {
            Skip = $"no PostgreSQL server: set {Variable} to a connection string such as \"Host=127.0.0.1;Username=steward;Password=steward;Database=postgres\" (its user needs CREATEDB)";
        }
    }
}

/// <summary>A throwaway PostgreSQL database, dropped with its connections when disposed.</summary>
internal sealed class AgentTestPostgres : IAsyncDisposable
{
    private readonly string admin;
    private readonly string name;

    private AgentTestPostgres(string admin, string name, string connectionString)
    {
        this.admin = admin;
        this.name = name;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public static async Task<AgentTestPostgres> CreateAsync()
    {
        var admin = Environment.GetEnvironmentVariable(NodePostgresFactAttribute.Variable) is { Length: > 0 } configured
            ? configured
            : throw new InvalidOperationException($"CI runs the PostgreSQL tests: {NodePostgresFactAttribute.Variable} must name a server");
        var name = "steward_agent_" + Guid.NewGuid().ToString("N");
        await using (var connection = new Npgsql.NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new AgentTestPostgres(admin, name, new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        await using var connection = new Npgsql.NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}

/// <summary>Every message logged, for assertions on what the gateway's log says.</summary>
internal sealed class ListLogger : ILogger
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
