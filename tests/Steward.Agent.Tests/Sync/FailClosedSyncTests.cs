using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;

namespace Steward.Agent.Tests.Sync;

/// <summary>
/// Failing closed against the real Steward server: a refused token ends the policy at the next sync, revisions only
/// move forward on this machine, and a bundle is valid offline for the profile's maximum offline age.
/// </summary>
public sealed class FailClosedSyncTests
{
    private static ManualTime Clock() => new(DateTimeOffset.UtcNow);

    private static async Task<LoginResult> LoginAsync(TempConfig config, string url, string token, TimeProvider time, TimeSpan? maxOfflineAge = null)
    {
        using var fetcher = new PolicyFetcher();
        var login = await Login.LoginAsync(config.Paths, new LoginRequest(url, null, token, true, maxOfflineAge ?? TimeSpan.FromDays(7), config.Workspace),
            fetcher, time, CancellationToken.None);
        Assert.True(login.Succeeded, login.Error);
        return login;
    }

    private static PolicySync Sync(TempConfig config, TimeProvider time) => new(config.Paths, time, environment: _ => null);

    private static IEnumerable<string> Names(PolicyState state) =>
        Assert.IsType<PolicyState.Active>(state).Snapshot.Registry.Select(e => e.Server.Name);

    [Fact]
    public async Task A_token_the_server_refuses_disables_the_policy_at_the_next_sync_here_and_in_every_other_steward_process()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        var (token, id) = await server.DeveloperTokenWithIdAsync();
        using var config = new TempConfig();
        await LoginAsync(config, server.BaseUrl, token, time);
        using var sync = Sync(config, time);
        Assert.IsType<PolicyState.Active>(sync.Current);

        await server.RevokeTokenAsync(id);
        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Rejected, result.Outcome);
        Assert.Contains("answered 401", result.Message);
        Assert.DoesNotContain("previous policy stays in force", result.Message);
        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Contains("refused this machine's token (401: it is unknown, expired or revoked)", disabled.Reason);
        Assert.Contains($"steward login {server.BaseUrl}", disabled.WhatToDo);
        // What `steward mcp status` (another process, reading the files) shows.
        using var status = Sync(config, time);
        Assert.Equal(disabled.Reason, Assert.IsType<PolicyState.Disabled>(status.Current).Reason);
        Assert.Equal(Modes.File0600, Modes.Of(config.Paths.PolicyApplied));
        Assert.DoesNotContain(token, File.ReadAllText(config.Paths.PolicyApplied), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_login_with_a_valid_token_after_a_refusal_puts_the_policy_back_in_force()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        var (token, id) = await server.DeveloperTokenWithIdAsync();
        using var config = new TempConfig();
        await LoginAsync(config, server.BaseUrl, token, time);
        await server.RevokeTokenAsync(id);
        using (var sync = Sync(config, time))
        {
            await sync.SyncAsync(CancellationToken.None);
            Assert.IsType<PolicyState.Disabled>(sync.Current);
        }

        var (fresh, _) = await server.DeveloperTokenWithIdAsync("platform-2");
        await LoginAsync(config, server.BaseUrl, fresh, time);

        using var after = Sync(config, time);
        Assert.IsType<PolicyState.Active>(after.Current);
    }

    [Fact]
    public async Task An_older_cache_restored_is_refused_at_load_and_a_removed_server_does_not_come_back()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        using var config = new TempConfig();
        await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time);
        var older = File.ReadAllBytes(config.Paths.PolicyCache);
        using var sync = Sync(config, time);
        Assert.Contains("io.example/alpha", Names(sync.Current));

        await server.DeleteVersionAsync("io.example/alpha", "1.0.0");
        var result = await sync.SyncAsync(CancellationToken.None);
        Assert.Equal(SyncOutcome.Updated, result.Outcome);
        Assert.DoesNotContain("io.example/alpha", Names(sync.Current));

        File.WriteAllBytes(config.Paths.PolicyCache, older);
        using var restored = Sync(config, time);

        var disabled = Assert.IsType<PolicyState.Disabled>(restored.Current);
        Assert.Contains("the bundle is older than the one this machine already applied (revision", disabled.Reason);
        Assert.Contains("nothing changed", disabled.Reason);
        Assert.True(restored.CacheOlderThanApplied);
        Assert.Null(restored.Snapshot);
        // The process that holds the newer policy keeps it; the next sync brings the newest bundle back.
        Assert.DoesNotContain("io.example/alpha", Names(sync.Current));
        Assert.True((await restored.SyncAsync(CancellationToken.None)).Succeeded);
        Assert.DoesNotContain("io.example/alpha", Names(restored.Current));
    }

    [Fact]
    public async Task A_bundle_older_than_one_this_machine_applied_is_refused_at_sync_and_the_policy_in_force_stays()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();
        await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time);
        using var sync = Sync(config, time);
        var revision = Assert.IsType<PolicyState.Active>(sync.Current).Snapshot.Revision;
        // Another steward process of this user applied a later revision than the server now serves (the server was restored from a backup).
        AppliedMark.Update(config.Paths, mark => mark! with { Revision = "100000" });
        await server.PublishAsync("io.example/alpha", "1.0.0");

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Rejected, result.Outcome);
        Assert.Contains("the bundle is older than the one this machine already applied (revision 100000 issued at", result.Message);
        Assert.Contains("nothing changed", result.Message);
        var active = Assert.IsType<PolicyState.Active>(sync.Current);
        Assert.Equal(revision, active.Snapshot.Revision);
        Assert.DoesNotContain("io.example/alpha", Names(active));
    }

    [Fact]
    public async Task With_a_short_sync_interval_the_bundle_stays_valid_for_the_default_maximum_offline_age_of_seven_days()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await server.PutProfileAsync("""{"syncIntervalSeconds":60}""");
        using var config = new TempConfig();
        var login = await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time);

        Assert.True(login.ExpiresAt >= time.GetUtcNow() + TimeSpan.FromDays(7), $"expires at {login.ExpiresAt:O}");
        Assert.Null(login.ExpiresBeforeOfflineAge);
        Assert.Equal("7d", login.MaxOfflineAge);

        // Ten sync intervals without a sync: a CLI command still finds the policy in force (stale, not expired).
        time.Advance(TimeSpan.FromMinutes(10));
        using var sync = Sync(config, time);
        Assert.True(Assert.IsType<PolicyState.Active>(sync.Current).Stale);

        // Just past the seven days since the server last confirmed it: disabled.
        time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        Assert.IsType<PolicyState.Disabled>(sync.Current);
    }

    [Fact]
    public async Task The_bundle_expiry_follows_the_profiles_maximum_offline_age_and_login_says_when_the_bundle_ends_sooner()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await server.PutProfileAsync("""{"syncIntervalSeconds":3600,"maxOfflineAgeSeconds":259200}""");
        using var config = new TempConfig();

        var login = await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time);

        Assert.True(login.ExpiresAt >= time.GetUtcNow() + TimeSpan.FromDays(3), $"expires at {login.ExpiresAt:O}");
        Assert.True(login.ExpiresAt <= time.GetUtcNow() + TimeSpan.FromDays(3) + TimeSpan.FromHours(1), $"expires at {login.ExpiresAt:O}");
        Assert.Equal("3d", login.MaxOfflineAge);
        Assert.Null(login.ExpiresBeforeOfflineAge);

        // A login that asks for longer than the server's validity is told the bundle's expiry ends it first.
        await server.PutProfileAsync("""{"syncIntervalSeconds":3600,"maxOfflineAgeSeconds":null}""");
        using var longer = new TempConfig();
        var thirty = await LoginAsync(longer, server.BaseUrl, StewardServerHost.AdminToken, time, TimeSpan.FromDays(30));
        Assert.Equal(thirty.ExpiresAt, thirty.ExpiresBeforeOfflineAge);
        Assert.True(thirty.ExpiresAt >= time.GetUtcNow() + TimeSpan.FromDays(7));
    }
}
