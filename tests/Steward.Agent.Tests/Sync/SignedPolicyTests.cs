using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;
using Steward.Core.Policy;

namespace Steward.Agent.Tests.Sync;

/// <summary>Login and sync against the real Steward server: key pinning, the signed bundle, rotation, the signed cache.</summary>
public sealed class SignedPolicyTests
{
    private static ManualTime Clock() => new(DateTimeOffset.UtcNow);

    private static async Task<LoginResult> LoginAsync(TempConfig config, string url, string token, TimeProvider time, string? keyThumbprint = null, TimeSpan? maxOfflineAge = null)
    {
        using var fetcher = new PolicyFetcher();
        return await Login.LoginAsync(config.Paths, new LoginRequest(url, null, token, true, maxOfflineAge ?? TimeSpan.FromDays(7), config.Workspace, keyThumbprint),
            fetcher, time, CancellationToken.None);
    }

    private static PolicySync Sync(TempConfig config, TimeProvider time) => new(config.Paths, time, environment: _ => null);

    private static IEnumerable<string> Names(PolicyState state) =>
        Assert.IsType<PolicyState.Active>(state).Snapshot.Registry.Select(e => e.Server.Name).Order(StringComparer.Ordinal);

    [Fact]
    public async Task Login_pins_the_servers_key_prints_its_thumbprint_and_keeps_the_token_out_of_source_json()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        var token = await server.DeveloperTokenAsync();
        using var config = new TempConfig();

        var result = await LoginAsync(config, server.BaseUrl, token, time);

        Assert.True(result.Succeeded, result.Error);
        var kid = Assert.Single(await server.PublishedKidsAsync());
        Assert.Equal(kid, result.KeyThumbprint);
        Assert.Equal("steward-server", result.Kind);
        Assert.True(result.Servers > 1, "the demo organisation's seeded servers and the one published");
        Assert.NotNull(result.ExpiresAt);
        var source = SourceStore.Load(config.Paths).Source!;
        Assert.Equal(kid, Assert.Single(source.PinnedKeys).Jwk.Kid);
        Assert.True(source.PinnedKeys[0].Jwk.KidIsThumbprint);
        var sourceJson = File.ReadAllText(config.Paths.SourceFile);
        Assert.Contains($"\"pinnedKey\": \"{kid}\"", sourceJson, StringComparison.Ordinal);
        Assert.Contains("\"x\": ", sourceJson, StringComparison.Ordinal);
        Assert.DoesNotContain(token, sourceJson, StringComparison.Ordinal);
        Assert.DoesNotContain(token, File.ReadAllText(config.Paths.PolicyCache), StringComparison.Ordinal);
        Assert.Equal(token, File.ReadAllText(config.Paths.TokenFile));
        Assert.Equal(Modes.File0600, Modes.Of(config.Paths.TokenFile));
        Assert.Equal(Modes.File0600, Modes.Of(config.Paths.PolicyCache));
        Assert.Contains("\"bundle\":\"", File.ReadAllText(config.Paths.PolicyCache), StringComparison.Ordinal);

        using var sync = Sync(config, time);
        Assert.Contains("io.example/alpha", Names(sync.Current));
        Assert.Equal(result.Servers, Names(sync.Current).Count());
        var snapshot = sync.Snapshot!;
        Assert.Equal(result.ExpiresAt, snapshot.ExpiresAt);
        Assert.Equal(TimeSpan.FromHours(24), snapshot.SyncInterval);
        Assert.Equal("demo/a/platform", snapshot.Subject);
        Assert.NotNull(snapshot.Models);
    }

    [Fact]
    public async Task Key_thumbprint_must_name_a_key_the_server_publishes_or_nothing_is_saved()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();
        var kid = Assert.Single(await server.PublishedKidsAsync());

        var refused = await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time, keyThumbprint: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

        Assert.Contains("does not publish the key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", refused.Error);
        Assert.Contains(kid, refused.Error);
        Assert.False(File.Exists(config.Paths.SourceFile));
        Assert.False(File.Exists(config.Paths.TokenFile));

        var accepted = await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time, keyThumbprint: kid);
        Assert.True(accepted.Succeeded, accepted.Error);
        Assert.Equal(kid, accepted.KeyThumbprint);
    }

    [Fact]
    public async Task Login_with_the_thumbprint_of_a_retired_key_follows_its_endorsement_to_the_active_key()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();
        var old = Assert.Single(await server.PublishedKidsAsync());
        var active = await server.RotateKeyAsync();

        var result = await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time, keyThumbprint: old);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(active, result.KeyThumbprint);
        var pins = SourceStore.Load(config.Paths).Source!.PinnedKeys;
        Assert.Equal([old, active], pins.Select(p => p.Jwk.Kid));
        Assert.NotNull(pins[0].TrustedUntil);
        Assert.Null(pins[1].TrustedUntil);
    }

    [Fact]
    public async Task A_refused_token_is_reported_without_the_token_and_nothing_is_saved()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();

        var result = await LoginAsync(config, server.BaseUrl, "stw_wrong-token-value", time);

        Assert.Contains("401", result.Error);
        Assert.DoesNotContain("stw_wrong-token-value", result.Error);
        Assert.False(File.Exists(config.Paths.SourceFile));
    }

    [Fact]
    public async Task Sync_sends_the_etag_gets_304_then_verifies_a_new_bundle_and_reports_servers_added_and_upgraded()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await using var proxy = await PolicyProxy.StartAsync(server.BaseUrl);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        var token = await server.DeveloperTokenAsync();
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, proxy.BaseUrl, token, time)).Succeeded);
        using var sync = Sync(config, time);

        var unchanged = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Unchanged, unchanged.Outcome);
        Assert.Contains("304", unchanged.Message);
        Assert.Equal(("/api/v1/policy", 304), proxy.Answers.Last());

        await server.PublishAsync("io.example/alpha", "1.1.0");
        await server.PublishAsync("io.example/beta", "0.1.0");
        var updated = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Updated, updated.Outcome);
        Assert.Equal(["io.example/beta"], updated.Changes.Added.Select(s => s.Name));
        Assert.Equal([new VersionChange("io.example/alpha", "1.0.0", "1.1.0")], updated.Changes.Upgraded);
        Assert.Contains("io.example/beta", Names(sync.Current));
    }

    [Fact]
    public async Task A_bundle_signed_by_another_servers_key_is_rejected_and_the_previous_snapshot_stays()
    {
        var time = Clock();
        await using var pinned = await StewardServerHost.StartAsync(time);
        await using var other = await StewardServerHost.StartAsync(time);
        await pinned.PublishAsync("io.example/alpha", "1.0.0");
        await other.PublishAsync("io.example/evil", "6.6.6");
        await using var proxy = await PolicyProxy.StartAsync(pinned.BaseUrl);
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, proxy.BaseUrl, StewardServerHost.AdminToken, time)).Succeeded);
        var sourceBefore = File.ReadAllBytes(config.Paths.SourceFile);
        var cacheBefore = File.ReadAllBytes(config.Paths.PolicyCache);
        using var sync = Sync(config, time);
        await other.RotateKeyAsync();
        proxy.Target = other.BaseUrl;

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Rejected, result.Outcome);
        Assert.Contains("was rejected", result.Message);
        Assert.Contains("neither pinned", result.Message);
        Assert.Contains("previous policy stays in force", result.Message);
        Assert.Contains(proxy.Answers, a => a.Path == "/api/v1/policy/keys");
        Assert.Contains("io.example/alpha", Names(sync.Current));
        Assert.DoesNotContain("io.example/evil", Names(sync.Current));
        Assert.True(((PolicyState.Active)sync.Current).Stale);
        Assert.Equal(sourceBefore, File.ReadAllBytes(config.Paths.SourceFile));
        Assert.Equal(cacheBefore, File.ReadAllBytes(config.Paths.PolicyCache));
    }

    [Fact]
    public async Task A_bundle_changed_in_transit_fails_its_signature_and_is_rejected()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await using var proxy = await PolicyProxy.StartAsync(server.BaseUrl);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, proxy.BaseUrl, StewardServerHost.AdminToken, time)).Succeeded);
        await server.PublishAsync("io.example/beta", "1.0.0");
        proxy.RewriteBundle = jws => ReplaceInPayload(jws, "io.example/beta", "io.example/evil");
        using var sync = Sync(config, time);

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Rejected, result.Outcome);
        Assert.Contains("signature does not verify", result.Message);
        Assert.DoesNotContain("io.example/beta", Names(sync.Current));
        Assert.DoesNotContain("io.example/evil", Names(sync.Current));
    }

    [Fact]
    public async Task Key_rotation_on_the_server_is_followed_through_the_endorsements_and_the_new_key_is_pinned()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        var token = await server.DeveloperTokenAsync();
        using var config = new TempConfig();
        var login = await LoginAsync(config, server.BaseUrl, token, time);
        Assert.True(login.Succeeded, login.Error);
        var first = login.KeyThumbprint!;
        var second = await server.RotateKeyAsync();
        var third = await server.RotateKeyAsync();
        using var sync = Sync(config, time);

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Contains($"the new key {third} is endorsed by the pinned key and is now pinned", result.Message);
        var pins = SourceStore.Load(config.Paths).Source!.PinnedKeys;
        Assert.Equal([first, second, third], pins.Select(p => p.Jwk.Kid));
        Assert.All(pins.Take(2), p => Assert.True(p.TrustedUntil > time.GetUtcNow()));
        Assert.Null(pins[2].TrustedUntil);
        Assert.Equal(third, SourceStore.Load(config.Paths).Source!.PinnedKey);
        Assert.Equal(Modes.File0600, Modes.Of(config.Paths.SourceFile));

        // The cache now holds a bundle signed by the new key, and verifies at the next start.
        using var restarted = Sync(config, time);
        Assert.Contains("io.example/alpha", Names(restarted.Current));
        Assert.Equal(SyncOutcome.Unchanged, (await restarted.SyncAsync(CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task A_tampered_cache_fails_the_signature_even_with_its_hash_recomputed()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time)).Succeeded);
        RewriteCachedBundle(config, jws => ReplaceInPayload(jws, "io.example/alpha", "io.example/evil"));

        using var sync = Sync(config, time);

        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Contains("the policy cache was rejected: its signed bundle does not verify with the pinned key", disabled.Reason);
        Assert.Contains("signature does not verify", disabled.Reason);
    }

    [Fact]
    public async Task A_cache_re_signed_with_another_key_is_rejected()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time)).Succeeded);
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var attackerKid = EcPublicJwk.FromKey(attacker).Kid;
        RewriteCachedBundle(config, jws => PolicyBundle.Sign(Base64Url.DecodeFromChars(jws.Split('.')[1]), attacker, attackerKid));

        using var sync = Sync(config, time);

        Assert.Contains("not a trusted (pinned) key", Assert.IsType<PolicyState.Disabled>(sync.Current).Reason);
    }

    [Fact]
    public async Task An_expired_bundle_is_not_in_force_and_MCP_is_disabled_naming_the_expiry()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();
        var login = await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time, maxOfflineAge: TimeSpan.FromDays(30));
        Assert.True(login.Succeeded, login.Error);
        using var sync = Sync(config, time);
        Assert.IsType<PolicyState.Active>(sync.Current);

        time.Advance(login.ExpiresAt!.Value - time.GetUtcNow() + TimeSpan.FromSeconds(1));

        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Contains("expired at", disabled.Reason);
        using var reloaded = Sync(config, time);
        Assert.Contains("expired at", Assert.IsType<PolicyState.Disabled>(reloaded.Current).Reason);
    }

    [Fact]
    public async Task An_unreachable_server_leaves_the_verified_cache_in_force_as_stale_until_the_maximum_offline_age()
    {
        var time = Clock();
        var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();
        try
        {
            await server.PublishAsync("io.example/alpha", "1.0.0");
            Assert.True((await LoginAsync(config, server.BaseUrl, StewardServerHost.AdminToken, time, maxOfflineAge: TimeSpan.FromHours(2))).Succeeded);
        }
        finally
        {
            await server.DisposeAsync();
        }

        time.Advance(TimeSpan.FromHours(1));
        using var sync = Sync(config, time);
        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Unreachable, result.Outcome);
        Assert.Contains("previous policy stays in force", result.Message);
        Assert.True(Assert.IsType<PolicyState.Active>(sync.Current).Stale);
        Assert.Contains("io.example/alpha", Names(sync.Current));

        time.Advance(TimeSpan.FromMinutes(61));
        Assert.Contains("maximum offline age (2h)", Assert.IsType<PolicyState.Disabled>(sync.Current).Reason);
    }

    [Fact]
    public async Task Sync_reports_models_added_removed_and_a_new_default()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        var token = await server.DeveloperTokenAsync();
        await server.PutModelPolicyAsync("""{"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-haiku-4-5": true}, "defaultModel": "claude-haiku-4-5"}""");
        using var config = new TempConfig();
        var login = await LoginAsync(config, server.BaseUrl, token, time);
        Assert.True(login.Succeeded, login.Error);
        Assert.Equal("claude-haiku-4-5", login.DefaultModel);
        await server.PutModelPolicyAsync("""{"controlEnabled": true, "states": {"claude-haiku-4-5": true, "claude-opus-4-5": true}, "defaultModel": "claude-opus-4-5"}""");
        using var sync = Sync(config, time);

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Updated, result.Outcome);
        Assert.Equal(["claude-opus-4-5"], result.ModelChanges.Added.Select(m => m.Id));
        Assert.Equal(["claude-sonnet-4-6"], result.ModelChanges.Removed.Select(m => m.Id));
        Assert.Equal(new DefaultModelChange("claude-haiku-4-5", "claude-opus-4-5"), result.ModelChanges.Default);
        var models = sync.Snapshot!.Models!;
        Assert.Equal(["claude-haiku-4-5", "claude-opus-4-5"], models.Available.Select(m => m.Id).Order(StringComparer.Ordinal));
        Assert.Equal("claude-opus-4-5", models.Default);
        var report = SyncReport.From(result, 0, governsModels: true);
        Assert.Equal(["claude-opus-4-5"], report.Models!.Added.Select(m => m.Id));
    }

    [Fact]
    public async Task A_profile_with_MCP_off_disables_MCP_with_the_reason()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        var token = await server.DeveloperTokenAsync();
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, server.BaseUrl, token, time)).Succeeded);
        await server.PutProfileAsync("""{"mcpEnabled": false}""");
        using var sync = Sync(config, time);

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Updated, result.Outcome);
        Assert.Contains("io.example/alpha", result.Changes.Removed.Select(s => s.Name));
        Assert.Empty(sync.Snapshot!.Registry);
        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Contains("MCP is disabled by the profile of demo/a/platform", disabled.Reason);
        Assert.Contains("administrator", disabled.WhatToDo);
        Assert.False(sync.Snapshot!.McpEnabled);
    }

    [Fact]
    public async Task Login_binds_the_machine_to_the_organisation_and_account_of_its_first_bundle()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        var token = await server.DeveloperTokenAsync();
        using var config = new TempConfig();

        Assert.True((await LoginAsync(config, server.BaseUrl, token, time)).Succeeded);

        Assert.Equal("demo/a/platform", SourceStore.Load(config.Paths).Source!.Subject);
        Assert.Contains("\"subject\": \"demo/a/platform\"", File.ReadAllText(config.Paths.SourceFile), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("another organisation")]
    [InlineData("another account")]
    public async Task A_bundle_the_same_server_signed_for_someone_else_is_refused_on_sync_and_the_previous_policy_stays(string whose)
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await using var proxy = await PolicyProxy.StartAsync(server.BaseUrl);
        var token = await server.DeveloperTokenAsync();
        var otherToken = whose == "another organisation" ? await server.OrganisationAsync("rival") : await server.DeveloperTokenAsync("contractors");
        var otherBundle = await server.BundleAsync(otherToken);
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, proxy.BaseUrl, token, time)).Succeeded);
        var cacheBefore = File.ReadAllBytes(config.Paths.PolicyCache);
        using var sync = Sync(config, time);
        var before = Names(sync.Current).ToList();
        await server.PublishAsync("io.example/beta", "1.0.0");
        proxy.RewriteBundle = _ => otherBundle;

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Rejected, result.Outcome);
        Assert.Contains(whose == "another organisation" ? "it is the policy of \"rival\"" : "it is the policy of \"demo/a/contractors\"", result.Message);
        Assert.Contains("logged in as \"demo/a/platform\"", result.Message);
        Assert.Contains("previous policy stays in force", result.Message);
        Assert.Equal(before, Names(sync.Current));
        Assert.Equal(cacheBefore, File.ReadAllBytes(config.Paths.PolicyCache));
    }

    [Fact]
    public async Task A_cache_holding_another_organisations_bundle_is_refused_at_load()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        var token = await server.DeveloperTokenAsync();
        var otherBundle = await server.BundleAsync(await server.OrganisationAsync("rival"));
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, server.BaseUrl, token, time)).Succeeded);
        RewriteCachedBundle(config, _ => otherBundle);

        using var sync = Sync(config, time);

        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Contains("the policy cache was rejected", disabled.Reason);
        Assert.Contains("it is the policy of \"rival\"", disabled.Reason);
    }

    [Fact]
    public async Task A_login_saved_before_the_binding_is_bound_by_its_next_sync_and_refuses_another_subject_after()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await using var proxy = await PolicyProxy.StartAsync(server.BaseUrl);
        var token = await server.DeveloperTokenAsync();
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, proxy.BaseUrl, token, time)).Succeeded);
        var legacy = JsonNode.Parse(File.ReadAllText(config.Paths.SourceFile))!.AsObject();
        Assert.True(legacy.Remove("subject"));
        File.WriteAllText(config.Paths.SourceFile, legacy.ToJsonString());
        Assert.Null(SourceStore.Load(config.Paths).Source!.Subject);
        using var sync = Sync(config, time);

        Assert.True((await sync.SyncAsync(CancellationToken.None)).Succeeded);

        Assert.Equal("demo/a/platform", SourceStore.Load(config.Paths).Source!.Subject);
        var organisationBundle = await server.BundleAsync(StewardServerHost.AdminToken);
        await server.PublishAsync("io.example/beta", "1.0.0");
        proxy.RewriteBundle = _ => organisationBundle;
        var refused = await sync.SyncAsync(CancellationToken.None);
        Assert.Equal(SyncOutcome.Rejected, refused.Outcome);
        Assert.Contains("it is the policy of \"demo\"", refused.Message);
    }

    [Fact]
    public async Task A_bundle_over_16_MiB_is_refused_while_it_downloads_and_the_previous_policy_stays()
    {
        var time = Clock();
        await using var server = await StewardServerHost.StartAsync(time);
        await using var proxy = await PolicyProxy.StartAsync(server.BaseUrl);
        var token = await server.DeveloperTokenAsync();
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, proxy.BaseUrl, token, time)).Succeeded);
        await server.PublishAsync("io.example/beta", "1.0.0");
        proxy.RewriteBundle = jws => jws + new string('A', PolicyBundle.MaxLength);
        using var sync = Sync(config, time);

        var result = await sync.SyncAsync(CancellationToken.None);

        Assert.Equal(SyncOutcome.Rejected, result.Outcome);
        Assert.Contains($"{PolicyBundle.MaxLength:N0} bytes", result.Message);
        Assert.DoesNotContain("20,971,520", result.Message);
        Assert.Contains("previous policy stays in force", result.Message);
    }

    [Fact]
    public void A_Steward_server_source_without_a_pinned_key_asks_for_a_new_login()
    {
        using var config = new TempConfig();
        Directory.CreateDirectory(config.Paths.ConfigDirectory);
        File.WriteAllText(config.Paths.SourceFile,
            """{"kind":"steward-server","location":"https://steward.example.com","allowHttp":false,"maxOfflineAge":"7d","savedAt":"2026-03-01T09:00:00+00:00"}""");

        using var sync = Sync(config, Clock());

        var disabled = Assert.IsType<PolicyState.Disabled>(sync.Current);
        Assert.Contains("pins no key", disabled.Reason);
        Assert.Contains("steward login https://steward.example.com", disabled.Reason);
    }

    /// <summary>A JWS with a string replaced in its payload, header and signature kept.</summary>
    private static string ReplaceInPayload(string jws, string from, string to)
    {
        var parts = jws.Trim().Split('.');
        var payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1]));
        Assert.Contains(from, payload, StringComparison.Ordinal);
        return parts[0] + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.Replace(from, to, StringComparison.Ordinal))) + "." + parts[2];
    }

    /// <summary>Rewrites the cached bundle and recomputes the cache's integrity hash, as someone able to write the file would.</summary>
    private static void RewriteCachedBundle(TempConfig config, Func<string, string> rewrite)
    {
        var file = JsonNode.Parse(File.ReadAllText(config.Paths.PolicyCache))!.AsObject();
        var content = file["content"]!.AsObject();
        content["bundle"] = rewrite((string)content["bundle"]!);
        var contentJson = content.ToJsonString();
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(contentJson)));
        File.WriteAllText(config.Paths.PolicyCache, $$"""{"format":"{{(string)file["format"]!}}","sha256":"{{hash}}","content":{{contentJson}}}""");
    }
}
