using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Steward.Agent.Audit;
using Steward.Agent.Gateway;
using Steward.Agent.Sources;
using Steward.Agent.Tests.Support;
using Steward.Core.Audit;

namespace Steward.Agent.Tests.Gateway;

/// <summary>The gateway's tool calls sent to the real Steward server (in-process Kestrel, SQLite): spooled while it is down, delivered when it answers.</summary>
public sealed class AuditUploadTests
{
    private const string AdminList = "api/v1/orgs/demo/audit/tool-calls";

    /// <summary>Every message logged, formatted, to look for what must never be logged.</summary>
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

    private static async Task<TempConfig> LoginAsync(StewardServerHost server, string token)
    {
        var config = new TempConfig();
        using var fetcher = new PolicyFetcher();
        var login = await Login.LoginAsync(config.Paths, new LoginRequest(server.BaseUrl, null, token, true, TimeSpan.FromDays(7), config.Workspace),
            fetcher, new ManualTime(DateTimeOffset.UtcNow), CancellationToken.None);
        Assert.True(login.Succeeded, login.Error);
        return config;
    }

    /// <summary>The source's settings, with their waits, on a clock the test moves (so it does not sit through them).</summary>
    private static AuditUploadOptions OnClock(TempConfig config, WatchedClock clock) =>
        AuditUploader.OptionsForSource(config.Paths, _ => null)! with { Time = clock };

    /// <summary>How far the clock is moved when the uploader waits on it: past any flush interval or retry (its backoff has ±20% jitter).</summary>
    private static TimeSpan PastAnyWait(AuditUploadOptions options) => options.FlushInterval + (options.MaxBackoff * 2);

    private static ToolCallEvent Call(string tool, IDictionary<string, JsonElement>? arguments = null, string server = "everything") =>
        new(DateTimeOffset.UtcNow, server, tool, "allow", "no rule", 3.25, "ok", arguments);

    private static int SpoolLines(string path)
    {
        try
        {
            return File.ReadAllLines(path).Count(l => l.Length > 0);
        }
        catch (FileNotFoundException)
        {
            return 0; // not made yet, or removed once delivered: between a check and a read it can go either way
        }
    }

    private static async Task<JsonArray> ListedAsync(StewardServerHost server)
    {
        using var admin = server.Client();
        return JsonNode.Parse(await admin.GetStringAsync(AdminList))!["toolCalls"]!.AsArray();
    }

    [Fact]
    public async Task Calls_wait_in_the_spool_while_the_server_is_down_survive_a_gateway_restart_and_are_delivered_when_it_answers()
    {
        var port = StewardServerHost.FreePort();
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow), port);
        var token = await server.DeveloperTokenAsync("platform");
        await server.PutProfileAsync("""{"auditToolArguments":true}""");
        using var config = await LoginAsync(server, token);
        var clock = new WatchedClock();
        var options = OnClock(config, clock);
        Assert.Equal(Path.Combine(config.Paths.ConfigDirectory, AuditUploader.SpoolFileName), options.SpoolPath);
        await server.StopAsync();

        var log = new ListLogger();
        var arguments = new Dictionary<string, JsonElement> { ["message"] = JsonDocument.Parse("\"audited-value\"").RootElement };
        await using (var first = new AuditUploader(options, log))
        {
            first.Enqueue(Call("echo", arguments));
            first.Enqueue(Call("add"));
            first.Enqueue(Call("longRunningOperation"));
            await clock.Until(() => SpoolLines(options.SpoolPath) == 3 && log.Messages.Any(m => m.Contains("cannot be sent", StringComparison.Ordinal)),
                "the three calls are spooled and a send has failed", PastAnyWait(options));
        }

        // The gateway stopped with the server still down: nothing was lost, and the spool is the owner's alone.
        Assert.Equal(3, SpoolLines(options.SpoolPath));
        Assert.Equal(Modes.File0600, Modes.Of(options.SpoolPath));

        await using (var second = new AuditUploader(options, log))
        {
            second.Enqueue(Call("printEnv"));
            await clock.Until(() => SpoolLines(options.SpoolPath) == 4, "the next gateway's call joins the spool");
            Assert.DoesNotContain(token, await File.ReadAllTextAsync(options.SpoolPath), StringComparison.Ordinal);

            await server.StartAgainAsync();
            await clock.Until(() => SpoolLines(options.SpoolPath) == 0 && second.Delivered == 4, "the spool is delivered", PastAnyWait(options));
        }

        var listed = await ListedAsync(server);
        Assert.Equal(["add", "echo", "longRunningOperation", "printEnv"], listed.Select(e => (string)e!["tool"]!).Order(StringComparer.Ordinal));
        Assert.Equal(4, listed.Select(e => (string)e!["id"]!).Distinct().Count());
        Assert.All(listed, e => Assert.Equal("platform", (string)e!["account"]!));
        Assert.All(listed, e => Assert.Equal(3.25, (double)e!["durationMs"]!));
        Assert.Equal("audited-value", (string)listed.Single(e => (string)e!["tool"]! == "echo")!["arguments"]!["message"]!);
        Assert.All(listed.Where(e => (string)e!["tool"]! != "echo"), e => Assert.Null(e!["arguments"]));
        Assert.Contains(log.Messages, m => m.Contains("sent to", StringComparison.Ordinal) && m.Contains("again", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Messages, m => m.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_event_the_server_refuses_is_dropped_alone_and_the_rest_of_its_batch_is_delivered()
    {
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow));
        using var config = await LoginAsync(server, await server.DeveloperTokenAsync());
        var clock = new WatchedClock();
        var options = OnClock(config, clock) with { FlushInterval = TimeSpan.FromMinutes(10), FlushCount = 3 };
        var log = new ListLogger();
        await using (var uploader = new AuditUploader(options, log))
        {
            uploader.Enqueue(Call("echo"));
            uploader.Enqueue(Call("echo", server: new string('s', 300)));
            uploader.Enqueue(Call("add"));
            await clock.Until(() => uploader.Delivered == 2 && SpoolLines(options.SpoolPath) == 0, "the two valid calls are delivered and the spool emptied");
        }

        Assert.Equal(["add", "echo"], (await ListedAsync(server)).Select(e => (string)e!["tool"]!).Order(StringComparer.Ordinal));
        Assert.Contains(log.Messages, m => m.Contains("refused tool-call event", StringComparison.Ordinal) && m.Contains(".server", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_gateways_sharing_the_spool_deliver_every_call_of_both_once()
    {
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow));
        using var config = await LoginAsync(server, await server.DeveloperTokenAsync());
        var clock = new WatchedClock();
        var options = OnClock(config, clock) with { FlushCount = 7 };
        var log = new ListLogger();
        await using (var first = new AuditUploader(options, log))
        await using (var second = new AuditUploader(options, log))
        {
            var calls = Enumerable.Range(0, 60).Select(i => Task.Run(() => (i % 2 == 0 ? first : second).Enqueue(Call("tool-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)))));
            await Task.WhenAll(calls);
            await clock.Until(() => SpoolLines(options.SpoolPath) == 0 && first.Delivered + second.Delivered >= 60, "both gateways' calls are delivered", PastAnyWait(options));
        }

        using var admin = server.Client();
        var listed = JsonNode.Parse(await admin.GetStringAsync(AdminList + "?limit=500"))!["toolCalls"]!.AsArray();
        Assert.Equal(60, listed.Count);
        Assert.Equal(60, listed.Select(e => (string)e!["tool"]!).Distinct().Count());
        Assert.DoesNotContain(log.Messages, m => m.Contains("cannot", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_spool_past_its_limit_drops_the_oldest_calls_and_keeps_the_newest()
    {
        using var config = new TempConfig();
        var clock = new WatchedClock();
        var options = new AuditUploadOptions
        {
            ServerUrl = $"http://127.0.0.1:{StewardServerHost.FreePort()}",
            AllowHttp = true,
            Token = () => "stw_never-accepted",
            SpoolPath = Path.Combine(config.Paths.ConfigDirectory, AuditUploader.SpoolFileName),
            FlushInterval = TimeSpan.FromMilliseconds(100),
            InitialBackoff = TimeSpan.FromMinutes(10),
            MaxSpoolBytes = 4000,
            Time = clock,
        };
        var log = new ListLogger();
        await using (var uploader = new AuditUploader(options, log))
        {
            for (var i = 0; i < 60; i++)
            {
                uploader.Enqueue(Call("tool-" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture)));
                await clock.Until(() => File.Exists(options.SpoolPath) && File.ReadAllText(options.SpoolPath).Contains($"tool-{i:D2}", StringComparison.Ordinal), "the call is spooled");
            }
        }

        var tools = File.ReadAllLines(options.SpoolPath).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("tool").GetString()).ToList();
        Assert.True(new FileInfo(options.SpoolPath).Length <= options.MaxSpoolBytes);
        Assert.Equal("tool-59", tools[^1]);
        Assert.DoesNotContain("tool-00", tools);
        Assert.Equal(tools.Order(StringComparer.Ordinal), tools);
        Assert.Contains(log.Messages, m => m.Contains("oldest events were dropped from the upload", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Only_a_Steward_server_source_has_an_upload()
    {
        using var config = new TempConfig();
        Assert.Null(AuditUploader.OptionsForSource(config.Paths, _ => null));

        var registry = config.Write("registry.json", PolicyFixture.Registry);
        using var fetcher = new PolicyFetcher();
        var login = await Login.LoginAsync(config.Paths, new LoginRequest(null, registry, null, false, TimeSpan.FromDays(7), config.Workspace),
            fetcher, new ManualTime(DateTimeOffset.UtcNow), CancellationToken.None);
        Assert.True(login.Succeeded, login.Error);
        Assert.Null(AuditUploader.OptionsForSource(config.Paths, _ => null));
    }

    [NodeFact]
    public async Task A_call_through_the_gateway_reaches_the_server_with_argument_values_only_when_the_policy_enables_them()
    {
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow));
        await server.PutProfileAsync("""{"auditToolArguments":true}""");
        using var config = await LoginAsync(server, await server.DeveloperTokenAsync());
        var clock = new WatchedClock();
        var options = OnClock(config, clock);
        var uploader = new AuditUploader(options, new ListLogger());
        await using (uploader)
        {
            await using var harness = await GatewayHarness.StartAsync(
                Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
                Fixtures.Policy([Fixtures.EverythingNpm()]), server: Fixtures.EverythingName, uploader: uploader);
            await harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "not-audited-value" });
            await harness.Gateway.ApplyPolicyAsync(Fixtures.Policy([Fixtures.EverythingNpm()], auditArguments: true));
            await harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "audited-value" });
            await clock.Until(() => uploader.Delivered == 2, "both calls are delivered", PastAnyWait(options));
        }

        using var admin = server.Client();
        var text = await admin.GetStringAsync(AdminList);
        Assert.DoesNotContain("not-audited-value", text, StringComparison.Ordinal);
        var listed = JsonNode.Parse(text)!["toolCalls"]!.AsArray();
        Assert.Equal(2, listed.Count);
        Assert.All(listed, e => Assert.Equal(("everything", "echo", "allow", "ok"), ((string)e!["server"]!, (string)e["tool"]!, (string)e["decision"]!, (string)e["outcome"]!)));
        Assert.Equal("audited-value", (string)listed[0]!["arguments"]!["message"]!);
        Assert.Null(listed[1]!["arguments"]);
    }
}
