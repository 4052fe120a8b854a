using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Core.Policy;
using Steward.Core.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Tests.Governance;

public sealed class PolicyBundleEndpointTests
{
    [Fact]
    public async Task A_developer_gets_the_signed_effective_profile_with_the_admitted_entries_and_it_verifies_with_the_published_key()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        var (developer, _) = await server.CreateTokenAsync("developer", "platform");

        var (response, jws) = await server.BundleAsync(developer);
        using var _ = response;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(PolicyBundle.MediaType, response.Content.Headers.ContentType!.MediaType);
        Assert.NotNull(response.Headers.ETag);
        var keys = await server.KeysAsync();
        var payload = server.Verify(jws, keys);
        Assert.Equal("demo", payload.GetProperty("organisation").GetString());
        Assert.Equal("platform", payload.GetProperty("account").GetString());
        Assert.Equal("organisation", payload.GetProperty("profile").GetProperty("scope").GetString());
        Assert.True(payload.GetProperty("profile").GetProperty("mcpEnabled").GetBoolean());
        Assert.Equal(86400, payload.GetProperty("profile").GetProperty("syncIntervalSeconds").GetInt64());
        // The models the caller may use (filled by model governance; its own tests check the content).
        Assert.Equal(JsonValueKind.Array, payload.GetProperty("models").ValueKind);
        Assert.False(string.IsNullOrEmpty(payload.GetProperty("revision").GetString()));
        var iat = payload.GetProperty("iat").GetInt64();
        // No maximum offline age in the profile: valid for the end of the daily window plus the default 7 days.
        Assert.Equal(iat + 86400 + (7 * 86400), payload.GetProperty("exp").GetInt64());
        Assert.True(iat <= server.Time.GetUtcNow().ToUnixTimeSeconds());

        // The registry inside is a Registry API page of the latest active versions: Core reads it.
        var registry = Encoding(payload.GetProperty("registry"));
        var loaded = RegistryLoader.Load(registry, RegistryShape.RegistryApiPage);
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Problems));
        // The demo organisation's three seeded servers.
        Assert.Equal(3, loaded.Document!.Entries.Count);
    }

    private static byte[] Encoding(JsonElement element) => System.Text.Encoding.UTF8.GetBytes(element.GetRawText());

    [Fact]
    public async Task The_bundle_has_an_etag_that_answers_304_until_the_registry_changes()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        var (developer, _) = await server.CreateTokenAsync("developer", "platform");
        var (first, _) = await server.BundleAsync(developer);
        var etag = first.Headers.ETag!.ToString();
        first.Dispose();

        var (again, body) = await server.BundleAsync(developer, etag);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Equal(etag, again.Headers.ETag!.ToString());
        Assert.Empty(body);
        again.Dispose();

        using (var admin = server.Client(GovernanceServer.AdminToken))
        {
            using var published = await admin.PostAsync("/api/v1/orgs/demo/registry/servers", GovernanceServer.Json(TestServer.ServerJson("com.example/new-server", "1.0.0")));
            Assert.Equal(HttpStatusCode.Created, published.StatusCode);
        }

        var (changed, jws) = await server.BundleAsync(developer, etag);
        using var _ = changed;
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag!.ToString());
        var payload = server.Verify(jws, await server.KeysAsync());
        Assert.Equal(4, payload.GetProperty("registry").GetProperty("servers").GetArrayLength());
    }

    [Fact]
    public async Task An_account_profile_supersedes_the_organisation_profile_and_mcp_off_admits_nothing()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("contractors");
        await server.CreateAccountAsync("platform");
        var (contractor, _) = await server.CreateTokenAsync("developer", "contractors");
        var (platform, _) = await server.CreateTokenAsync("developer", "platform");
        await server.PutProfileAsync("/api/v1/orgs/demo/accounts/contractors/profile", """{"mcpEnabled":false,"webToolsEnabled":false,"syncIntervalSeconds":3600,"maxOfflineAgeSeconds":7200}""");
        var keys = await server.KeysAsync();

        var (response, jws) = await server.BundleAsync(contractor);
        response.Dispose();
        var payload = server.Verify(jws, keys);
        var profile = payload.GetProperty("profile");
        Assert.Equal("account", profile.GetProperty("scope").GetString());
        Assert.False(profile.GetProperty("mcpEnabled").GetBoolean());
        Assert.False(profile.GetProperty("webToolsEnabled").GetBoolean());
        Assert.Equal(0, payload.GetProperty("registry").GetProperty("servers").GetArrayLength());
        // The expiry is the end of the window (half the validity, as it is shorter than the sync interval) plus the maximum offline age.
        Assert.Equal(payload.GetProperty("iat").GetInt64() + 3600 + 7200, payload.GetProperty("exp").GetInt64());

        var (other, otherJws) = await server.BundleAsync(platform);
        other.Dispose();
        var otherPayload = server.Verify(otherJws, keys);
        Assert.Equal("organisation", otherPayload.GetProperty("profile").GetProperty("scope").GetString());
        Assert.Equal(3, otherPayload.GetProperty("registry").GetProperty("servers").GetArrayLength());
    }

    [Fact]
    public async Task The_bundle_profile_says_whether_gateways_record_tool_call_argument_values()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("auditors");
        await server.CreateAccountAsync("platform");
        var (auditor, _) = await server.CreateTokenAsync("developer", "auditors");
        var (platform, _) = await server.CreateTokenAsync("developer", "platform");
        await server.PutProfileAsync("/api/v1/orgs/demo/accounts/auditors/profile", """{"auditToolArguments":true}""");
        var keys = await server.KeysAsync();

        var (response, jws) = await server.BundleAsync(auditor);
        response.Dispose();
        Assert.True(server.Verify(jws, keys).GetProperty("profile").GetProperty("auditToolArguments").GetBoolean());

        var (other, otherJws) = await server.BundleAsync(platform);
        other.Dispose();
        Assert.False(server.Verify(otherJws, keys).GetProperty("profile").GetProperty("auditToolArguments").GetBoolean());
    }

    [Fact]
    public async Task A_bundle_is_refused_by_a_client_once_it_expires()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        var (developer, _) = await server.CreateTokenAsync("developer", "platform");
        var (response, jws) = await server.BundleAsync(developer);
        response.Dispose();
        var keys = await server.KeysAsync();
        var verified = PolicyBundle.Verify(jws, keys, server.Time.GetUtcNow());
        Assert.True(verified.IsValid, verified.Error);

        Assert.False(PolicyBundle.Verify(jws, keys, verified.ExpiresAt!.Value.AddMinutes(6)).IsValid);
        // A fetch at any time gives a bundle valid for at least one sync interval.
        Assert.True(verified.ExpiresAt!.Value - server.Time.GetUtcNow() >= TimeSpan.FromHours(24));
    }

    [Fact]
    public async Task A_signed_bundle_is_served_from_memory_until_its_revision_window_or_key_changes_and_the_token_is_checked_every_time()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        var (developer, tokenId) = await server.CreateTokenAsync("developer", "platform");
        var (first, jws) = await server.BundleAsync(developer);
        var etag = first.Headers.ETag!.ToString();
        first.Dispose();

        // The same signature bytes (ES256 signatures are randomised: the bundle was not signed again), and 304 on the ETag.
        var (second, again) = await server.BundleAsync(developer);
        second.Dispose();
        Assert.Equal(jws, again);
        var (conditional, empty) = await server.BundleAsync(developer, etag);
        Assert.Equal(HttpStatusCode.NotModified, conditional.StatusCode);
        Assert.Empty(empty);
        conditional.Dispose();

        // A new window issues a new bundle (a new iat), signed again; the old window's entry is dropped.
        server.Time.Advance(TimeSpan.FromDays(1));
        var (next, nextJws) = await server.BundleAsync(developer, etag);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var nextEtag = next.Headers.ETag!.ToString();
        Assert.NotEqual(etag, nextEtag);
        next.Dispose();
        Assert.True(server.Verify(nextJws, await server.KeysAsync()).GetProperty("iat").GetInt64() > server.Verify(jws, await server.KeysAsync()).GetProperty("iat").GetInt64());

        // A rotated key signs the next bundle (its kid is in the signed header, so the ETag changes).
        using (var admin = server.Client(GovernanceServer.AdminToken))
        {
            using var rotated = await admin.PostAsync("/api/v1/admin/keys/rotate", GovernanceServer.Json("{}"));
            Assert.Equal(HttpStatusCode.Created, rotated.StatusCode);
        }

        var (resigned, _) = await server.BundleAsync(developer, nextEtag);
        Assert.Equal(HttpStatusCode.OK, resigned.StatusCode);
        var resignedEtag = resigned.Headers.ETag!.ToString();
        resigned.Dispose();

        // A revoked token gets 401 even for content that is cached.
        using (var admin = server.Client(GovernanceServer.AdminToken))
        {
            using var revoked = await admin.DeleteAsync($"/api/v1/orgs/demo/tokens/{tokenId}");
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        }

        var (refused, _) = await server.BundleAsync(developer, resignedEtag);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        refused.Dispose();
    }

    [Fact]
    public void The_bundle_cache_keeps_one_entry_per_caller_and_drops_older_revisions_and_windows()
    {
        var cache = new Policy.BundleCache();
        Policy.BundleKey Key(string account, string revision, long iat, string models = "[]") => new("org", "demo", account, account, revision, iat, "kid", models);
        cache.Set(Key("a", "1", 100), new Policy.SignedBundle("\"1\"", [1]));
        cache.Set(Key("b", "1", 100), new Policy.SignedBundle("\"2\"", [2]));
        cache.Set(Key("a", "1", 100, "[{}]"), new Policy.SignedBundle("\"3\"", [3]));
        Assert.Equal(3, cache.Count);

        cache.Set(Key("a", "2", 100), new Policy.SignedBundle("\"4\"", [4]));
        cache.Set(Key("a", "2", 200), new Policy.SignedBundle("\"5\"", [5]));
        Assert.Equal(3, cache.Count);
        Assert.False(cache.TryGet(Key("a", "1", 100), out _));
        Assert.False(cache.TryGet(Key("a", "2", 100), out _));
        Assert.True(cache.TryGet(Key("a", "2", 200), out var current));
        Assert.Equal("\"5\"", current!.ETag);
        Assert.True(cache.TryGet(Key("b", "1", 100), out _));
        Assert.True(cache.TryGet(Key("a", "1", 100, "[{}]"), out _));
    }

    [Fact]
    public async Task Concurrent_requests_for_content_not_yet_signed_wait_for_one_signature_and_a_failed_signature_is_not_kept()
    {
        var cache = new Policy.BundleCache();
        var key = new Policy.BundleKey("org", "demo", null, null, "1", 100, "kid", "[]");
        var release = new TaskCompletionSource();
        var signatures = 0;
        async Task<Policy.SignedBundle> Sign()
        {
            Interlocked.Increment(ref signatures);
            await release.Task;
            return new Policy.SignedBundle("\"s\"", [1]);
        }

        var waiting = Enumerable.Range(0, 16).Select(_ => Task.Run(() => cache.GetOrSignAsync(key, Sign))).ToList();
        while (Volatile.Read(ref signatures) == 0)
        {
            await Task.Yield();
        }

        release.SetResult();
        var bundles = await Task.WhenAll(waiting);
        Assert.Equal(1, signatures);
        Assert.All(bundles, b => Assert.Same(bundles[0], b));

        var failing = key with { Revision = "2" };
        await Assert.ThrowsAsync<InvalidOperationException>(() => cache.GetOrSignAsync(failing, () => throw new InvalidOperationException("the registry could not be read")));
        Assert.False(cache.TryGet(failing, out _));
        var retried = await cache.GetOrSignAsync(failing, () => Task.FromResult(new Policy.SignedBundle("\"r\"", [2])));
        Assert.Equal("\"r\"", retried.ETag);
    }

    [Fact]
    public void A_remembered_token_resolution_ends_after_a_second_at_the_token_expiry_at_the_window_end_and_after_any_change()
    {
        var changes = new Hosting.LocalChanges();
        var resolutions = new Policy.BundleResolutions(changes);
        var bundle = new Policy.SignedBundle("\"b\"", [1]);
        var now = new DateTimeOffset(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);
        const long Window = 3600;
        var issuedAt = Policy.PolicyApi.IssuedAt(Window, now);

        resolutions.Remember("hash", resolutions.Generation, now, null, Window, issuedAt, bundle);
        Assert.Same(bundle, resolutions.Find("hash", now.AddMilliseconds(999)));
        Assert.Null(resolutions.Find("other", now));
        Assert.Null(resolutions.Find("hash", now + Hosting.LocalChanges.Lifetime));

        // The window ends before the second does: the next request signs the new window.
        var windowEnd = DateTimeOffset.FromUnixTimeSeconds(issuedAt + Window);
        resolutions.Remember("hash", resolutions.Generation, windowEnd.AddMilliseconds(-500), null, Window, issuedAt, bundle);
        Assert.Same(bundle, resolutions.Find("hash", windowEnd.AddMilliseconds(-1)));
        Assert.Null(resolutions.Find("hash", windowEnd));

        // The token expires within the second.
        resolutions.Remember("hash", resolutions.Generation, now, now.AddMilliseconds(200), Window, issuedAt, bundle);
        Assert.Same(bundle, resolutions.Find("hash", now.AddMilliseconds(199)));
        Assert.Null(resolutions.Find("hash", now.AddMilliseconds(200)));

        // A change on this instance, including one committed while the resolution was being read.
        var before = resolutions.Generation;
        changes.Changed();
        resolutions.Remember("hash", before, now, null, Window, issuedAt, bundle);
        Assert.Null(resolutions.Find("hash", now));
        resolutions.Remember("hash", resolutions.Generation, now, null, Window, issuedAt, bundle);
        changes.Changed();
        Assert.Null(resolutions.Find("hash", now));
    }

    [Fact]
    public async Task A_change_made_through_this_instance_is_in_the_next_bundle_without_waiting_for_the_remembered_token_to_lapse()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        var (developer, _) = await server.CreateTokenAsync("developer", "platform");
        var keys = await server.KeysAsync();
        var (first, jws) = await server.BundleAsync(developer);
        var etag = first.Headers.ETag!.ToString();
        first.Dispose();
        Assert.True(server.Verify(jws, keys).GetProperty("profile").GetProperty("mcpEnabled").GetBoolean());

        // The clock does not move: only the change itself can make the remembered resolution stale.
        await server.PutProfileAsync("/api/v1/orgs/demo/profile", """{"mcpEnabled": false}""");
        var (changed, changedJws) = await server.BundleAsync(developer, etag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        changed.Dispose();
        Assert.False(server.Verify(changedJws, keys).GetProperty("profile").GetProperty("mcpEnabled").GetBoolean());
    }

    [Fact]
    public async Task Without_a_valid_token_the_bundle_is_401()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        using var anonymous = server.Client();
        using var response = await anonymous.GetAsync("/api/v1/policy");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);

        using var bad = server.Client("stw_nobody-was-given-this-token-ever");
        Assert.Equal(HttpStatusCode.Unauthorized, (await bad.GetAsync("/api/v1/policy")).StatusCode);
    }

    [Fact]
    public async Task Rotation_keeps_the_old_key_published_for_the_grace_period_and_the_old_key_endorses_the_new_one()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        var (developer, _) = await server.CreateTokenAsync("developer", "platform");
        var pinned = await server.KeysAsync();
        Assert.Single(pinned);
        var (before, beforeJws) = await server.BundleAsync(developer);
        before.Dispose();
        server.Verify(beforeJws, pinned);

        using var admin = server.Client(GovernanceServer.AdminToken);
        using var rotated = await admin.PostAsync("/api/v1/admin/keys/rotate", GovernanceServer.Json("""{"graceSeconds":86400}"""));
        var rotation = JsonNode.Parse(await rotated.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.Created, rotated.StatusCode);
        Assert.Equal(pinned[0].Kid, (string)rotation["previousKid"]!);

        // During the grace period the JWKS lists both keys, the new (active) one first.
        var during = await server.KeysAsync();
        Assert.Equal(2, during.Count);
        Assert.Equal((string)rotation["kid"]!, during[0].Kid);
        Assert.Equal(pinned[0].Kid, during[1].Kid);

        // A bundle signed before the rotation still verifies with the old key; new bundles are signed by the new key only.
        server.Verify(beforeJws, during);
        var (after, afterJws) = await server.BundleAsync(developer);
        after.Dispose();
        Assert.False(PolicyBundle.Verify(afterJws, pinned, server.Time.GetUtcNow()).IsValid);
        var payload = server.Verify(afterJws, [during[0]]);
        Assert.Equal("demo", payload.GetProperty("organisation").GetString());

        // A client that pinned the old key re-pins through the endorsement the old key signed.
        using var anonymous = server.Client();
        var jwks = JsonNode.Parse(await anonymous.GetStringAsync("/api/v1/policy/keys"))!;
        var endorsement = (string)jwks["endorsements"]!.AsArray().Single()!;
        var endorsed = PolicyBundle.VerifyEndorsement(endorsement, pinned, server.Time.GetUtcNow(), out var error);
        Assert.Null(error);
        Assert.Equal(during[0], endorsed);

        // After the grace period only the new key is published.
        server.Time.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));
        var later = await server.KeysAsync();
        Assert.Equal([during[0]], later);

        using var audit = await admin.GetAsync("/api/v1/orgs/demo/audit?action=signing-key.rotate");
        Assert.Contains((string)rotation["kid"]!, await audit.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("anonymous", HttpStatusCode.Unauthorized)]
    [InlineData("developer", HttpStatusCode.Forbidden)]
    [InlineData("other-admin", HttpStatusCode.Forbidden)]
    [InlineData("admin", HttpStatusCode.Created)]
    public async Task Only_an_admin_of_the_first_organisation_rotates_the_key(string caller, HttpStatusCode expected)
    {
        await using var server = await GovernanceServer.StartAsync();
        var other = await server.AddOrganisationAsync("other");
        await server.CreateAccountAsync("platform");
        var token = caller switch
        {
            "anonymous" => null,
            "developer" => (await server.CreateTokenAsync("developer", "platform")).Token,
            "other-admin" => other.Admin,
            _ => GovernanceServer.AdminToken,
        };
        using var client = server.Client(token);
        using var response = await client.PostAsync("/api/v1/admin/keys/rotate", null);
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(expected == HttpStatusCode.Created ? 2 : 1, (await server.KeysAsync()).Count);
    }

    [Fact]
    public async Task A_rotation_body_with_several_problems_is_refused_with_every_one_at_its_path_and_no_key_is_made()
    {
        await using var server = await GovernanceServer.StartAsync();
        using var admin = server.Client(GovernanceServer.AdminToken);
        using var bad = await admin.PostAsync("/api/v1/admin/keys/rotate", GovernanceServer.Json("""{"grace":3600,"graceSeconds":5}"""));
        var text = await bad.Content.ReadAsStringAsync();
        Assert.True(bad.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(["grace", "graceSeconds"], problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("grace: unknown field; expected one of graceSeconds", detail, StringComparison.Ordinal);
        Assert.Contains("graceSeconds: expected whole seconds from 3600 to 31536000", detail, StringComparison.Ordinal);
        Assert.Single(await server.KeysAsync());
    }

    [Fact]
    public async Task A_rotation_with_a_bad_grace_period_is_422_naming_the_field_and_an_oversized_body_is_413()
    {
        await using var server = await GovernanceServer.StartAsync();
        using var admin = server.Client(GovernanceServer.AdminToken);
        using var bad = await admin.PostAsync("/api/v1/admin/keys/rotate", GovernanceServer.Json("""{"graceSeconds":5}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        Assert.Contains("body.graceSeconds", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var big = await admin.PostAsync("/api/v1/admin/keys/rotate", GovernanceServer.Json("{\"graceSeconds\":" + new string(' ', 10_000) + "3600}"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        Assert.Single(await server.KeysAsync());
    }

    [Fact]
    public async Task The_private_key_is_sealed_at_rest_and_a_server_with_another_key_encryption_key_refuses_to_start()
    {
        await using var server = await GovernanceServer.StartAsync();
        var kek = Path.Combine(server.DataDir, "signing-keys.kek");
        Assert.Equal(32, new FileInfo(kek).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(kek));
        }

        await using (var connection = await server.Server.Database.OpenAsync(CancellationToken.None))
        {
            var stored = (string)(await connection.ScalarAsync("SELECT private_key FROM signing_keys", null, CancellationToken.None))!;
            Assert.StartsWith("v1.", stored, StringComparison.Ordinal);
            Assert.DoesNotContain("PRIVATE KEY", stored, StringComparison.Ordinal);
        }

        // The key survives a restart (same kid).
        var kid = (await server.KeysAsync())[0].Kid;
        await server.RestartAsync();
        Assert.Equal(kid, (await server.KeysAsync())[0].Kid);

        await server.Server.StopAsync(CancellationToken.None);
        await server.Server.DisposeAsync();
        var original = await File.ReadAllBytesAsync(kek);
        await File.WriteAllBytesAsync(kek, new byte[32]);
        var failure = await Assert.ThrowsAsync<ServeException>(() => StewardServer.StartAsync(GovernanceServer.Options(server.DataDir, server.Time), CancellationToken.None));
        Assert.Contains("signing-keys.kek", failure.Message, StringComparison.Ordinal);
        Assert.Equal("--data-dir", failure.Option);

        // With its own key encryption key back, the server starts with the same signing key.
        await File.WriteAllBytesAsync(kek, original);
        await server.StartAgainAsync();
        Assert.Equal(kid, (await server.KeysAsync())[0].Kid);
    }
}
