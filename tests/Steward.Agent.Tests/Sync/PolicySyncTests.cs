using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;

namespace Steward.Agent.Tests.Sync;

public class PolicySyncTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    private static async Task LoginAsync(TempConfig config, string registry, TimeProvider time, TimeSpan? maxOfflineAge = null)
    {
        using var fetcher = new PolicyFetcher();
        var result = await Login.LoginAsync(config.Paths, new LoginRequest(null, registry, null, true, maxOfflineAge ?? TimeSpan.FromDays(7), config.Workspace), fetcher, time, CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
    }

    [Fact]
    public async Task A_resync_sends_the_etag_and_a_304_keeps_the_snapshot_and_renews_its_confirmation()
    {
        await using var host = await RegistryHost.StartAsync();
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        await LoginAsync(config, host.BaseUrl + "/kiro.json", time);
        time.Advance(TimeSpan.FromHours(30));
        using var sync = new PolicySync(config.Paths, time);
        Assert.True(Assert.IsType<PolicyState.Active>(sync.Current).Stale);

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Unchanged, result.Outcome);
        Assert.Equal(1, host.NotModifiedAnswers);
        var active = Assert.IsType<PolicyState.Active>(sync.Current);
        Assert.False(active.Stale);
        Assert.Equal(time.GetUtcNow(), active.Snapshot.FetchedAt);
        Assert.Equal(time.GetUtcNow(), PolicyCache.Read(config.Paths).Policy!.ConfirmedAt);
    }

    [Fact]
    public async Task A_resync_of_a_paged_registry_api_answers_304_on_the_first_page_and_fetches_nothing_more()
    {
        await using var host = await RegistryHost.StartAsync();
        host.ApiItems = RegistryHost.SnapshotItems(150);
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        await LoginAsync(config, host.BaseUrl, time);
        host.ApiRequests.Clear();
        using var sync = new PolicySync(config.Paths, time);

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Unchanged, result.Outcome);
        Assert.Equal(["?limit=100"], host.ApiRequests);
    }

    [Fact]
    public async Task An_unreachable_source_with_a_cache_keeps_the_cached_snapshot_in_force_as_stale()
    {
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        string url;
        await using (var host = await RegistryHost.StartAsync())
        {
            url = host.BaseUrl + "/kiro.json";
            await LoginAsync(config, url, time);
        }

        time.Advance(TimeSpan.FromHours(1));
        using var sync = new PolicySync(config.Paths, time);
        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Unreachable, result.Outcome);
        Assert.Contains("cannot be reached", result.Message);
        Assert.Contains("previous policy stays in force", result.Message);
        var active = Assert.IsType<PolicyState.Active>(sync.Current);
        Assert.True(active.Stale);
        Assert.Equal(2, active.Snapshot.Registry.Count);
    }

    [Fact]
    public async Task An_unreachable_source_without_a_cache_disables_MCP_naming_why_and_what_to_do()
    {
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        await using (var host = await RegistryHost.StartAsync())
        {
            await LoginAsync(config, host.BaseUrl + "/kiro.json", time);
        }

        File.Delete(config.Paths.PolicyCache);
        using var sync = new PolicySync(config.Paths, time);
        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Unreachable, result.Outcome);
        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.StartsWith("no verified policy: ", disabled.Reason);
        Assert.Contains("cannot be reached", disabled.Reason);
        Assert.Contains("run `steward sync` when the registry file", disabled.WhatToDo);
    }

    [Fact]
    public async Task Past_the_maximum_offline_age_the_cached_policy_no_longer_applies()
    {
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        await using (var host = await RegistryHost.StartAsync())
        {
            await LoginAsync(config, host.BaseUrl + "/kiro.json", time, maxOfflineAge: TimeSpan.FromDays(2));
        }

        using var sync = new PolicySync(config.Paths, time);
        time.Advance(TimeSpan.FromDays(2) - TimeSpan.FromMinutes(1));
        Assert.IsType<PolicyState.Active>(sync.Current);

        time.Advance(TimeSpan.FromMinutes(2));
        await sync.SyncAsync(CancellationToken.None);

        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Contains("maximum offline age (2d)", disabled.Reason);
    }

    [Fact]
    public async Task A_tampered_cache_is_rejected_and_treated_as_no_cache()
    {
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        var path = config.Write("registry.json", File.ReadAllText(FixturePaths.Kiro));
        await LoginAsync(config, path, time);
        var cache = File.ReadAllText(config.Paths.PolicyCache);
        File.WriteAllText(config.Paths.PolicyCache, cache.Replace("my-local-server", "my-evil-server", StringComparison.Ordinal));
        File.Delete(path);

        using var sync = new PolicySync(config.Paths, time);

        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Contains("integrity hash does not match", disabled.Reason);
    }

    [Fact]
    public async Task A_cache_that_is_not_JSON_is_rejected_and_a_sync_replaces_it()
    {
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        var path = config.Write("registry.json", File.ReadAllText(FixturePaths.Kiro));
        await LoginAsync(config, path, time);
        File.WriteAllText(config.Paths.PolicyCache, "{ truncated");

        using var sync = new PolicySync(config.Paths, time);
        Assert.IsType<PolicyState.Disabled>(sync.Current);
        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Updated, result.Outcome);
        Assert.IsType<PolicyState.Active>(sync.Current);
        Assert.NotNull(PolicyCache.Read(config.Paths).Policy);
    }

    [Fact]
    public async Task A_malformed_registry_is_rejected_whole_naming_its_problems_and_the_previous_snapshot_stays()
    {
        await using var host = await RegistryHost.StartAsync();
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        await LoginAsync(config, host.BaseUrl + "/kiro.json", time);
        var cacheBefore = File.ReadAllBytes(config.Paths.PolicyCache);
        host.KiroFile = KiroFiles.With(("good", "1.0.0"), ("bad name", "1.0.0"));

        using var sync = new PolicySync(config.Paths, time);
        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Rejected, result.Outcome);
        Assert.Contains("rejected whole", result.Message);
        Assert.Contains(result.Problems, p => p.Path == "servers[1].server.name");
        var active = Assert.IsType<PolicyState.Active>(sync.Current);
        Assert.Equal(["my-remote-server", "my-local-server"], active.Snapshot.Registry.Select(e => e.Server.Name));
        Assert.Equal(cacheBefore, File.ReadAllBytes(config.Paths.PolicyCache));
    }

    [Fact]
    public async Task Sync_reports_servers_added_removed_and_upgraded_and_tells_the_gateway()
    {
        await using var host = await RegistryHost.StartAsync();
        host.KiroFile = KiroFiles.With(("alpha", "1.0.0"), ("beta", "1.0.0"), ("gamma", "2.0.0"));
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        await LoginAsync(config, host.BaseUrl + "/kiro.json", time);
        host.KiroFile = KiroFiles.With(("alpha", "1.1.0"), ("gamma", "2.0.0"), ("delta", "0.1.0"));
        using var sync = new PolicySync(config.Paths, time);
        var notified = new List<PolicyStateChangedEventArgs>();
        sync.StateChanged += (_, e) => notified.Add(e);

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Updated, result.Outcome);
        Assert.Equal([new ServerVersion("delta", "0.1.0")], result.Changes.Added);
        Assert.Equal([new ServerVersion("beta", "1.0.0")], result.Changes.Removed);
        Assert.Equal([new VersionChange("alpha", "1.0.0", "1.1.0")], result.Changes.Upgraded);
        var change = Assert.Single(notified);
        Assert.Equal(result.Changes, change.Changes);
        Assert.Equal(PolicyCache.RevisionOf(host.KiroFile), Assert.IsType<PolicyState.Active>(change.State).Snapshot.Revision);
    }

    [Fact]
    public async Task The_cache_is_written_0600_with_an_integrity_hash_and_no_temporary_file_left_behind()
    {
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        await LoginAsync(config, config.Write("registry.json", File.ReadAllText(FixturePaths.Kiro)), time);

        Assert.Equal(Modes.File0600, Modes.Of(config.Paths.PolicyCache));
        Assert.Contains("\"sha256\":\"", File.ReadAllText(config.Paths.PolicyCache));
        Assert.Equal(["policy-cache.json", "source.json"], Directory.GetFiles(config.Paths.ConfigDirectory).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Without_a_login_MCP_is_disabled_and_the_developer_is_told_to_log_in()
    {
        using var config = new TempConfig();
        using var sync = new PolicySync(config.Paths, new ManualTime(Start));

        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Equal("no verified policy: no policy source is set", disabled.Reason);
        Assert.Contains("steward login", disabled.WhatToDo);
    }

    [Fact]
    public async Task A_cache_from_another_source_does_not_apply()
    {
        using var config = new TempConfig();
        var time = new ManualTime(Start);
        await LoginAsync(config, config.Write("a.json", File.ReadAllText(FixturePaths.Kiro)), time);
        var cache = File.ReadAllBytes(config.Paths.PolicyCache);
        await LoginAsync(config, config.Write("b.json", File.ReadAllText(FixturePaths.Kiro)), time);
        File.WriteAllBytes(config.Paths.PolicyCache, cache);

        using var sync = new PolicySync(config.Paths, time);

        Assert.Contains("another source", Assert.IsType<PolicyState.Disabled>(sync.Current).Reason);
    }
}
