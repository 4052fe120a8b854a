using System.Net;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests.Governance;

public sealed class ProfileAndTokenTests(ProfileAndTokenTests.Fixture fixture) : IClassFixture<ProfileAndTokenTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        internal GovernanceServer Server { get; private set; } = null!;
        public string Developer { get; private set; } = "";
        public string OtherAdmin { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Server = await GovernanceServer.StartAsync();
            await Server.CreateAccountAsync("platform");
            Developer = (await Server.CreateTokenAsync("developer", "platform")).Token;
            (OtherAdmin, _) = await Server.AddOrganisationAsync("other");
        }

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    private static int _counter;

    private HttpClient Admin() => fixture.Server.Client(GovernanceServer.AdminToken);

    private static async Task<JsonNode> JsonAsync(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    [Fact]
    public async Task Changing_the_organisation_profile_raises_its_revision_and_audits_before_and_after_in_one_row()
    {
        using var admin = Admin();
        var before = await JsonAsync(await admin.GetAsync("/api/v1/orgs/demo/profile"));
        Assert.Equal("organisation", (string)before["scope"]!);
        Assert.Equal("hosted", (string)before["registryMode"]!);

        using var put = await admin.PutAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json("""{"webToolsEnabled":false,"syncIntervalSeconds":43200}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var after = await JsonAsync(put);
        Assert.False((bool)after["webToolsEnabled"]!);
        Assert.Equal(43200, (long)after["syncIntervalSeconds"]!);
        Assert.Equal((long)before["revision"]! + 1, (long)after["revision"]!);

        var audit = await JsonAsync(await admin.GetAsync("/api/v1/orgs/demo/audit?action=profile.update&limit=1"));
        var row = audit["audit"]![0]!;
        Assert.Equal("profile:organisation", (string)row["object"]!);
        Assert.True((bool)row["before"]!["webToolsEnabled"]!);
        Assert.False((bool)row["after"]!["webToolsEnabled"]!);
        Assert.Equal((long)after["revision"]!, (long)row["revision"]!);

        // Put back what the other tests expect.
        using var reset = await admin.PutAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json("""{"webToolsEnabled":true,"syncIntervalSeconds":86400}"""));
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
    }

    [Fact]
    public async Task Recording_tool_call_argument_values_is_off_by_default_and_turning_it_on_raises_the_revision_and_is_audited()
    {
        using var admin = Admin();
        await fixture.Server.CreateAccountAsync("auditors");
        using var created = await admin.PutAsync("/api/v1/orgs/demo/accounts/auditors/profile", GovernanceServer.Json("{}"));
        var before = await JsonAsync(created);
        Assert.False((bool)before["auditToolArguments"]!);

        using var put = await admin.PutAsync("/api/v1/orgs/demo/accounts/auditors/profile", GovernanceServer.Json("""{"auditToolArguments":true}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var after = await JsonAsync(put);
        Assert.True((bool)after["auditToolArguments"]!);
        Assert.Equal((long)before["revision"]! + 1, (long)after["revision"]!);
        Assert.True((bool)(await JsonAsync(await admin.GetAsync("/api/v1/orgs/demo/accounts/auditors/profile")))["auditToolArguments"]!);

        var audit = await JsonAsync(await admin.GetAsync("/api/v1/orgs/demo/audit?action=profile.update&limit=1"));
        var row = audit["audit"]![0]!;
        Assert.Equal("profile:account/auditors", (string)row["object"]!);
        Assert.False((bool)row["before"]!["auditToolArguments"]!);
        Assert.True((bool)row["after"]!["auditToolArguments"]!);

        // A write that leaves the field out keeps it; turning it off is said in so many words.
        using var unchanged = await admin.PutAsync("/api/v1/orgs/demo/accounts/auditors/profile", GovernanceServer.Json("""{"mcpEnabled":true}"""));
        Assert.True((bool)(await JsonAsync(unchanged))["auditToolArguments"]!);
        using var reset = await admin.PutAsync("/api/v1/orgs/demo/accounts/auditors/profile", GovernanceServer.Json("""{"auditToolArguments":false}"""));
        Assert.False((bool)(await JsonAsync(reset))["auditToolArguments"]!);
    }

    [Fact]
    public async Task An_account_profile_is_created_read_and_deleted_and_the_organisation_profile_applies_again()
    {
        using var admin = Admin();
        await fixture.Server.CreateAccountAsync("research");
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/orgs/demo/accounts/research/profile")).StatusCode);

        using var created = await admin.PutAsync("/api/v1/orgs/demo/accounts/research/profile", GovernanceServer.Json("""{"registryMode":"external","registryUrl":"https://registry.example.com"}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var profile = await JsonAsync(await admin.GetAsync("/api/v1/orgs/demo/accounts/research/profile"));
        Assert.Equal("account", (string)profile["scope"]!);
        Assert.Equal("https://registry.example.com", (string)profile["registryUrl"]!);
        Assert.Equal(1, (long)profile["revision"]!);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/orgs/demo/accounts/research/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/orgs/demo/accounts/research/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/v1/orgs/demo/accounts/research/profile")).StatusCode);

        // Made again, it continues its revisions, so a revision id is never reused.
        using var again = await admin.PutAsync("/api/v1/orgs/demo/accounts/research/profile", GovernanceServer.Json("""{"mcpEnabled":false}"""));
        Assert.Equal(3, (long)(await JsonAsync(again))["revision"]!);

        var audit = (await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=500"));
        Assert.Contains("\"action\":\"profile.delete\",\"object\":\"profile:account/research\"", audit, StringComparison.Ordinal);
        Assert.Contains("\"action\":\"account.create\",\"object\":\"account:research\"", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_partial_write_changes_only_the_fields_it_names_and_a_new_account_profile_starts_from_the_organisations()
    {
        using var admin = Admin();
        await fixture.Server.CreateAccountAsync("partial");
        var organisation = await JsonAsync(await admin.GetAsync("/api/v1/orgs/demo/profile"));

        // Created by a body that names one field: everything else is what the account had, the organisation's settings.
        using var created = await admin.PutAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("""{"syncIntervalSeconds":60,"modelControlEnabled":true}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var first = await JsonAsync(created);
        Assert.Equal((bool)organisation["webToolsEnabled"]!, (bool)first["webToolsEnabled"]!);
        Assert.Equal((string)organisation["registryMode"]!, (string)first["registryMode"]!);

        // PUT and PATCH with one field leave the others as they are: no reset of the interval or of model control.
        using var put = await admin.PutAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("""{"webToolsEnabled":false}"""));
        var afterPut = await JsonAsync(put);
        Assert.False((bool)afterPut["webToolsEnabled"]!);
        Assert.Equal(60, (long)afterPut["syncIntervalSeconds"]!);
        Assert.True((bool)afterPut["modelControlEnabled"]!);

        using var patch = await admin.PatchAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("""{"mcpEnabled":false}"""));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        var afterPatch = await JsonAsync(patch);
        Assert.False((bool)afterPatch["mcpEnabled"]!);
        Assert.False((bool)afterPatch["webToolsEnabled"]!);
        Assert.Equal(60, (long)afterPatch["syncIntervalSeconds"]!);
        Assert.True((bool)afterPatch["modelControlEnabled"]!);
        Assert.Equal((long)afterPut["revision"]! + 1, (long)afterPatch["revision"]!);

        // An empty body changes nothing and raises no revision.
        using var empty = await admin.PutAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("{}"));
        Assert.Equal((long)afterPatch["revision"]!, (long)(await JsonAsync(empty))["revision"]!);

        // A kept maximum offline age shorter than a new interval is refused, naming the field to set as well.
        using var offline = await admin.PatchAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("""{"maxOfflineAgeSeconds":3600}"""));
        Assert.Equal(HttpStatusCode.OK, offline.StatusCode);
        using var longer = await admin.PatchAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("""{"syncIntervalSeconds":7200}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, longer.StatusCode);
        Assert.Equal("body.maxOfflineAgeSeconds", (string)(await JsonAsync(longer))["errors"]![0]!["location"]!);

        // The external registry's URL stays while the mode stays, and goes with the mode.
        using var external = await admin.PatchAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("""{"registryMode":"external","registryUrl":"https://registry.example.com/r.json"}"""));
        using var keep = await admin.PatchAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("""{"webToolsEnabled":true}"""));
        Assert.Equal("https://registry.example.com/r.json", (string)(await JsonAsync(keep))["registryUrl"]!);
        using var hosted = await admin.PatchAsync("/api/v1/orgs/demo/accounts/partial/profile", GovernanceServer.Json("""{"registryMode":"hosted"}"""));
        Assert.Equal(HttpStatusCode.OK, hosted.StatusCode);
        Assert.Null((await JsonAsync(hosted))["registryUrl"]);
    }

    [Theory]
    [InlineData("""{"registryMode":"mirror"}""", "body.registryMode")]
    [InlineData("""{"registryMode":"external"}""", "body.registryUrl")]
    [InlineData("""{"registryMode":"external","registryUrl":"http://registry.example.com"}""", "body.registryUrl")]
    [InlineData("""{"registryUrl":"https://registry.example.com"}""", "body.registryUrl")]
    [InlineData("""{"mcpEnabled":"yes"}""", "body.mcpEnabled")]
    [InlineData("""{"syncIntervalSeconds":10}""", "body.syncIntervalSeconds")]
    [InlineData("""{"syncIntervalSeconds":3600,"maxOfflineAgeSeconds":60}""", "body.maxOfflineAgeSeconds")]
    [InlineData("""{"modelControl":true}""", "body.modelControl")]
    [InlineData("""{"auditToolArguments":"yes"}""", "body.auditToolArguments")]
    [InlineData("""{"auditToolArguments":1}""", "body.auditToolArguments")]
    [InlineData("""{"auditToolArguments":null}""", "body.auditToolArguments")]
    public async Task A_bad_profile_is_422_naming_the_field_and_changes_nothing(string json, string location)
    {
        using var admin = Admin();
        var before = await admin.GetStringAsync("/api/v1/orgs/demo/profile");
        using var response = await admin.PutAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json(json));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal(location, (string)(await JsonAsync(response))["errors"]![0]!["location"]!);
        Assert.Equal(before, await admin.GetStringAsync("/api/v1/orgs/demo/profile"));
    }

    [Fact]
    public async Task A_profile_with_several_problems_is_one_422_naming_every_one_at_its_path_and_changes_nothing()
    {
        using var admin = Admin();
        var before = await admin.GetStringAsync("/api/v1/orgs/demo/profile");
        using var response = await admin.PutAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json(
            """{"mcpEnabled":"yes","webToolsEnabled":null,"registryMode":"mirror","registryUrl":"http://registry.example.com","syncIntervalSeconds":10,"colour":"blue","toolRules":[{"pattern":"a/b","effect":"block"}]}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await JsonAsync(response);
        var errors = problem["errors"]!.AsArray();
        Assert.Equal(["colour", "mcpEnabled", "webToolsEnabled", "registryMode", "registryUrl", "syncIntervalSeconds", "$.toolRules[0].effect"],
            errors.Select(e => (string)e!["path"]!));
        Assert.Equal(["body.colour", "body.mcpEnabled", "body.webToolsEnabled", "body.registryMode", "body.registryUrl", "body.syncIntervalSeconds", "body.toolRules[0].effect"],
            errors.Select(e => (string)e!["location"]!));
        Assert.Equal("expected true or false, found a string", (string)errors[1]!["message"]!);
        var detail = (string)problem["detail"]!;
        foreach (var part in new[]
                 {
                     "colour: unknown field", "webToolsEnabled: expected true or false", "registryMode: expected one of none, hosted, external",
                     "registryUrl: expected an absolute https URL", "syncIntervalSeconds: expected whole seconds from 60", "$.toolRules[0].effect: required: one of allow, ask, deny",
                 })
        {
            Assert.Contains(part, detail, StringComparison.Ordinal);
        }

        Assert.Equal(before, await admin.GetStringAsync("/api/v1/orgs/demo/profile"));
    }

    [Fact]
    public async Task A_profile_that_does_not_fit_the_profile_in_force_is_one_422_naming_each_field_to_change()
    {
        using var admin = Admin();
        await fixture.Server.CreateAccountAsync("misfit");
        using (var offline = await admin.PutAsync("/api/v1/orgs/demo/accounts/misfit/profile", GovernanceServer.Json("""{"registryMode":"hosted","syncIntervalSeconds":60,"maxOfflineAgeSeconds":3600}""")))
        {
            Assert.Equal(HttpStatusCode.Created, offline.StatusCode);
        }

        using var response = await admin.PatchAsync("/api/v1/orgs/demo/accounts/misfit/profile", GovernanceServer.Json("""{"registryMode":"external","syncIntervalSeconds":7200}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await JsonAsync(response);
        Assert.Equal(["registryUrl", "maxOfflineAgeSeconds"], problem["errors"]!.AsArray().Select(e => (string)e!["path"]!));
        Assert.Contains("registryUrl: required when registryMode is external", (string)problem["detail"]!, StringComparison.Ordinal);
        Assert.Contains("; maxOfflineAgeSeconds: the profile's maximum offline age (3600 s) would be shorter", (string)problem["detail"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bodies_over_the_limit_are_413_and_a_body_that_is_not_json_is_400()
    {
        using var admin = Admin();
        var big = "{\"mcpEnabled\":true" + new string(' ', 20_000) + "}";
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await admin.PutAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json(big))).StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await admin.PostAsync("/api/v1/orgs/demo/tokens", GovernanceServer.Json(big))).StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await admin.PostAsync("/api/v1/orgs/demo/accounts", GovernanceServer.Json(big))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PutAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json("{"))).StatusCode);
    }

    [Theory]
    [InlineData("""{"slug":"Bad Slug"}""", "body.slug", HttpStatusCode.UnprocessableEntity)]
    [InlineData("""{"slug":"platform"}""", null, HttpStatusCode.Conflict)]
    public async Task A_bad_or_taken_account_slug_is_refused(string json, string? location, HttpStatusCode expected)
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/api/v1/orgs/demo/accounts", GovernanceServer.Json(json));
        Assert.Equal(expected, response.StatusCode);
        if (location is not null)
        {
            Assert.Equal(location, (string)(await JsonAsync(response))["errors"]![0]!["location"]!);
        }
    }

    [Fact]
    public async Task An_account_body_with_several_problems_is_one_422_naming_every_one_at_its_path()
    {
        using var admin = Admin();
        using var created = await admin.PostAsync("/api/v1/orgs/demo/accounts", GovernanceServer.Json("""{"slug":"Bad Slug","name":" ","team":"x"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, created.StatusCode);
        var problem = await JsonAsync(created);
        Assert.Equal(["team", "slug", "name"], problem["errors"]!.AsArray().Select(e => (string)e!["path"]!));
        Assert.Equal(["body.team", "body.slug", "body.name"], problem["errors"]!.AsArray().Select(e => (string)e!["location"]!));
        var detail = (string)problem["detail"]!;
        Assert.Contains("team: unknown field; expected one of slug, name", detail, StringComparison.Ordinal);
        Assert.Contains("; slug: expected 1 to 63 lowercase letters, digits and '-', starting with a letter or digit", detail, StringComparison.Ordinal);
        Assert.Contains("; name: expected a string of 1 to 200 characters", detail, StringComparison.Ordinal);

        using var typed = await admin.PostAsync("/api/v1/orgs/demo/accounts", GovernanceServer.Json("""{"slug":7,"name":8}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, typed.StatusCode);
        var errors = (await JsonAsync(typed))["errors"]!.AsArray();
        Assert.Equal(["slug", "name"], errors.Select(e => (string)e!["path"]!));
        Assert.Equal("expected a string, found a number", (string)errors[0]!["message"]!);

        using var renamed = await admin.PatchAsync("/api/v1/orgs/demo/accounts/platform", GovernanceServer.Json("""{"slug":"other","colour":"blue"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, renamed.StatusCode);
        var rename = await JsonAsync(renamed);
        Assert.Equal(["slug", "colour", "name"], rename["errors"]!.AsArray().Select(e => (string)e!["path"]!));
        Assert.Contains("; name: expected a string of 1 to 200 characters: the account's new name (its slug stays)", (string)rename["detail"]!, StringComparison.Ordinal);
        var accounts = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/accounts"))!["accounts"]!.AsArray();
        Assert.DoesNotContain(accounts, a => (string)a!["slug"]! is "other" or "Bad Slug");
    }

    [Fact]
    public async Task A_token_is_shown_once_listed_without_its_value_and_answers_401_once_revoked()
    {
        var (token, id) = await fixture.Server.CreateTokenAsync("developer", "platform");
        var (response, _) = await fixture.Server.BundleAsync(token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        response.Dispose();

        using var admin = Admin();
        var list = await admin.GetStringAsync("/api/v1/orgs/demo/tokens");
        Assert.Contains(id, list, StringComparison.Ordinal);
        Assert.DoesNotContain(token, list, StringComparison.Ordinal);
        Assert.DoesNotContain(token[4..], list, StringComparison.Ordinal);
        var listed = JsonNode.Parse(list)!["tokens"]!.AsArray().Single(t => (string)t!["id"]! == id)!;
        Assert.Equal("platform", (string)listed["account"]!);
        Assert.Equal("active", (string)listed["status"]!);
        Assert.NotNull((string?)listed["expiresAt"]);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/orgs/demo/tokens/{id}")).StatusCode);
        var (revoked, _) = await fixture.Server.BundleAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
        revoked.Dispose();
        Assert.Equal("revoked", (string)JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/tokens"))!["tokens"]!.AsArray().Single(t => (string)t!["id"]! == id)!["status"]!);

        // Neither the audit nor anything else the server keeps holds the token.
        var audit = await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=500");
        Assert.Contains("token:" + id, audit, StringComparison.Ordinal);
        Assert.DoesNotContain(token, audit, StringComparison.Ordinal);
        foreach (var file in new[] { fixture.Server.Server.DatabaseDescription, fixture.Server.Server.DatabaseDescription + "-wal" }.Where(File.Exists))
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, System.Text.Encoding.Latin1);
            Assert.DoesNotContain(token, await reader.ReadToEndAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_account_is_renamed_and_deleted_its_tokens_revoked_its_history_kept_and_its_slug_free_again()
    {
        var server = fixture.Server;
        await server.CreateAccountAsync("short-lived");
        await server.PutProfileAsync("/api/v1/orgs/demo/accounts/short-lived/profile", """{"webToolsEnabled":false}""");
        var (token, tokenId) = await server.CreateTokenAsync("developer", "short-lived");
        using (var gateway = server.Client(token))
        {
            var at = server.Time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
            using var posted = await gateway.PostAsync("/api/v1/audit/tool-calls", GovernanceServer.Json($$"""
                [{"id":"{{Guid.NewGuid()}}","time":"{{at}}","server":"everything","tool":"echo","decision":"allow","because":"default","durationMs":1,"outcome":"ok"}]
                """));
            Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());
        }

        using var admin = Admin();
        using (var invalid = await admin.PatchAsync("/api/v1/orgs/demo/accounts/short-lived", GovernanceServer.Json("""{"name":"  "}""")))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
            Assert.Contains("name", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var unknown = await admin.PatchAsync("/api/v1/orgs/demo/accounts/short-lived", GovernanceServer.Json("""{"name":"x","slug":"other"}""")))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, unknown.StatusCode);
        }

        using (var renamed = await admin.PatchAsync("/api/v1/orgs/demo/accounts/short-lived", GovernanceServer.Json("""{"name":"Short-lived team"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
            var body = await JsonAsync(renamed);
            Assert.Equal("short-lived", (string)body["slug"]!);
            Assert.Equal("Short-lived team", (string)body["name"]!);
        }

        var accounts = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/accounts"))!["accounts"]!.AsArray();
        Assert.Equal("Short-lived team", (string)accounts.Single(a => (string)a!["slug"]! == "short-lived")!["name"]!);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/orgs/demo/accounts/short-lived")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/v1/orgs/demo/accounts/short-lived")).StatusCode);
        var (refused, _) = await server.BundleAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        refused.Dispose();
        accounts = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/accounts"))!["accounts"]!.AsArray();
        Assert.DoesNotContain(accounts, a => ((string)a!["slug"]!).StartsWith("short-lived", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/orgs/demo/accounts/short-lived/profile")).StatusCode);
        using (var tokenForGone = await admin.PostAsync("/api/v1/orgs/demo/tokens", GovernanceServer.Json("""{"name":"late","role":"developer","account":"short-lived"}""")))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, tokenForGone.StatusCode);
        }

        var listed = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/tokens"))!["tokens"]!.AsArray().Single(t => (string)t!["id"]! == tokenId)!;
        Assert.Equal("revoked", (string)listed["status"]!);
        // The tool call the account's developer made is still there.
        var calls = await admin.GetStringAsync("/api/v1/orgs/demo/audit/tool-calls");
        Assert.Contains(tokenId, calls, StringComparison.Ordinal);

        var audit = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=500"))!["audit"]!.AsArray();
        Assert.Contains(audit, r => (string)r!["action"]! == "account.rename" && (string)r["before"]!["name"]! == "Account short-lived" && (string)r["after"]!["name"]! == "Short-lived team");
        Assert.Contains(audit, r => (string)r!["action"]! == "token.revoke" && (string)r["object"]! == "token:" + tokenId);
        Assert.Contains(audit, r => (string)r!["action"]! == "profile.delete" && (string)r["object"]! == "profile:account/short-lived");
        Assert.Contains(audit, r => (string)r!["action"]! == "account.delete" && (string)r["object"]! == "account:short-lived" && (long)r["before"]!["tokensRevoked"]! == 1);

        // A new account may take the slug; it starts with no profile and no tokens.
        await server.CreateAccountAsync("short-lived");
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/orgs/demo/accounts/short-lived/profile")).StatusCode);
    }

    [Fact]
    public async Task A_token_answers_401_once_it_expires()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        var (token, _) = await server.CreateTokenAsync("developer", "platform", expiry: ",\"expiresInDays\":1");
        var (valid, _) = await server.BundleAsync(token);
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        valid.Dispose();

        server.Time.Advance(TimeSpan.FromDays(1));
        var (expired, _) = await server.BundleAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        expired.Dispose();
        using var admin = server.Client(GovernanceServer.AdminToken);
        Assert.Contains("\"status\":\"expired\"", await admin.GetStringAsync("/api/v1/orgs/demo/tokens"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"name":"ci","role":"developer"}""", "body.account")]
    [InlineData("""{"name":"ci","role":"developer","account":"nobody"}""", "body.account")]
    [InlineData("""{"name":"ci","role":"owner"}""", "body.role")]
    [InlineData("""{"role":"admin"}""", "body.name")]
    [InlineData("""{"name":"ci","role":"admin","expiresInDays":0}""", "body.expiresInDays")]
    [InlineData("""{"name":"ci","role":"admin","expiresInDays":10000}""", "body.expiresInDays")]
    [InlineData("""{"name":"ci","role":"admin","expiresAt":"2001-01-01T00:00:00Z"}""", "body.expiresAt")]
    [InlineData("""{"name":"ci","role":"admin","secret":"x"}""", "body.secret")]
    public async Task A_bad_token_request_is_422_naming_the_field(string json, string location)
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/api/v1/orgs/demo/tokens", GovernanceServer.Json(json));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal(location, (string)(await JsonAsync(response))["errors"]![0]!["location"]!);
    }

    [Fact]
    public async Task A_token_request_with_several_problems_is_one_422_naming_every_one_at_its_path()
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/api/v1/orgs/demo/tokens", GovernanceServer.Json("""{"name":" ","role":"owner","expiresInDays":"ten","colour":"blue"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await JsonAsync(response);
        var errors = problem["errors"]!.AsArray();
        Assert.Equal(["colour", "expiresInDays", "name", "role"], errors.Select(e => (string)e!["path"]!));
        Assert.Equal(["body.colour", "body.expiresInDays", "body.name", "body.role"], errors.Select(e => (string)e!["location"]!));
        Assert.Equal("expected a whole number, found a string", (string)errors[1]!["message"]!);
        Assert.Equal("\"ten\"", (string)errors[1]!["value"]!);
        var detail = (string)problem["detail"]!;
        foreach (var path in new[] { "colour: unknown field", "expiresInDays: expected a whole number", "name: expected a string", "role: expected admin or developer" })
        {
            Assert.Contains(path, detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("""{"name":"ci","role":"developer","expiresAt":"yesterday"}""", "account,expiresAt")]
    [InlineData("""{"name":5,"role":"developer","account":7}""", "name,account")]
    [InlineData("""{"role":"admin","expiresInDays":10,"expiresAt":"2001-01-01T00:00:00Z"}""", "name,expiresAt")]
    [InlineData("""{"name":"ci","role":"admin","expiresInDays":null}""", "expiresInDays")]
    [InlineData("""{"name":"ci","role":"admin","expiresAt":null}""", "expiresAt")]
    public async Task A_token_request_reports_each_field_at_fault_once(string json, string paths)
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/api/v1/orgs/demo/tokens", GovernanceServer.Json(json));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal(paths, string.Join(',', (await JsonAsync(response))["errors"]!.AsArray().Select(e => (string)e!["path"]!)));
    }

    [Fact]
    public async Task A_token_is_answered_with_every_field_in_order_and_null_for_what_it_has_not()
    {
        using var admin = Admin();
        using var created = await admin.PostAsync("/api/v1/orgs/demo/tokens", GovernanceServer.Json("""{"name":"fields","role":"admin"}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var token = (await JsonAsync(created)).AsObject();
        Assert.Equal(["id", "name", "role", "account", "createdAt", "expiresAt", "revokedAt", "status", "token"], token.Select(p => p.Key));
        Assert.Null(token["account"]);
        Assert.Null(token["revokedAt"]);

        var listed = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/tokens"))!["tokens"]!.AsArray().Single(t => (string)t!["id"]! == (string)token["id"]!)!.AsObject();
        Assert.Equal(["id", "name", "role", "account", "createdAt", "expiresAt", "revokedAt", "status"], listed.Select(p => p.Key));
    }

    [Fact]
    public async Task An_admin_token_made_through_the_api_administers_its_organisation()
    {
        var (token, _) = await fixture.Server.CreateTokenAsync("admin", null, expiry: ",\"expiresAt\":\"2026-06-01T00:00:00Z\"");
        using var client = fixture.Server.Client(token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/orgs/demo/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/orgs/other/profile")).StatusCode);
    }

    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (var endpoint in new[] { "get-profile", "put-profile", "patch-profile", "list-accounts", "create-account", "get-account-profile", "put-account-profile", "patch-account-profile", "delete-account-profile", "rename-account", "delete-account", "create-token", "list-tokens", "revoke-token" })
        {
            foreach (var caller in new[] { "anonymous", "bad-token", "developer", "other-admin", "admin" })
            {
                data.Add(endpoint, caller);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Every_new_admin_endpoint_answers_each_kind_of_caller_as_it_must(string endpoint, string caller)
    {
        var server = fixture.Server;
        var n = Interlocked.Increment(ref _counter);
        var account = $"matrix-{n}";
        await server.CreateAccountAsync(account);
        await server.PutProfileAsync($"/api/v1/orgs/demo/accounts/{account}/profile", """{"webToolsEnabled":false}""");
        var (_, tokenId) = await server.CreateTokenAsync("developer", account);
        var token = caller switch
        {
            "anonymous" => null,
            "bad-token" => "stw_not-a-token-anyone-was-given",
            "developer" => fixture.Developer,
            "other-admin" => fixture.OtherAdmin,
            _ => GovernanceServer.AdminToken,
        };
        using var client = server.Client(token);
        using var response = endpoint switch
        {
            "get-profile" => await client.GetAsync("/api/v1/orgs/demo/profile"),
            "put-profile" => await client.PutAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json("{}")),
            "patch-profile" => await client.PatchAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json("{}")),
            "list-accounts" => await client.GetAsync("/api/v1/orgs/demo/accounts"),
            "create-account" => await client.PostAsync("/api/v1/orgs/demo/accounts", GovernanceServer.Json($$"""{"slug":"new-{{n}}"}""")),
            "get-account-profile" => await client.GetAsync($"/api/v1/orgs/demo/accounts/{account}/profile"),
            "put-account-profile" => await client.PutAsync($"/api/v1/orgs/demo/accounts/{account}/profile", GovernanceServer.Json("""{"mcpEnabled":false}""")),
            "patch-account-profile" => await client.PatchAsync($"/api/v1/orgs/demo/accounts/{account}/profile", GovernanceServer.Json("""{"mcpEnabled":false}""")),
            "delete-account-profile" => await client.DeleteAsync($"/api/v1/orgs/demo/accounts/{account}/profile"),
            "rename-account" => await client.PatchAsync($"/api/v1/orgs/demo/accounts/{account}", GovernanceServer.Json("""{"name":"Renamed"}""")),
            "delete-account" => await client.DeleteAsync($"/api/v1/orgs/demo/accounts/{account}"),
            "create-token" => await client.PostAsync("/api/v1/orgs/demo/tokens", GovernanceServer.Json($$"""{"name":"m","role":"developer","account":"{{account}}"}""")),
            "list-tokens" => await client.GetAsync("/api/v1/orgs/demo/tokens"),
            _ => await client.DeleteAsync($"/api/v1/orgs/demo/tokens/{tokenId}"),
        };
        var expected = caller switch
        {
            "anonymous" or "bad-token" => HttpStatusCode.Unauthorized,
            "developer" => HttpStatusCode.Forbidden,
            "other-admin" => HttpStatusCode.NotFound,
            _ => endpoint switch
            {
                "create-account" or "create-token" => HttpStatusCode.Created,
                "delete-account-profile" or "delete-account" or "revoke-token" => HttpStatusCode.NoContent,
                _ => HttpStatusCode.OK,
            },
        };
        Assert.True(expected == response.StatusCode, $"{endpoint} as {caller}: expected {(int)expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (expected == HttpStatusCode.Unauthorized)
        {
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }

        // What was refused changed nothing: the account's profile is as it was.
        if (caller != "admin" && endpoint is "put-account-profile" or "delete-account-profile" or "rename-account" or "delete-account")
        {
            using var admin = Admin();
            var profile = JsonNode.Parse(await admin.GetStringAsync($"/api/v1/orgs/demo/accounts/{account}/profile"))!;
            Assert.True((bool)profile["mcpEnabled"]!);
            Assert.Equal(1, (long)profile["revision"]!);
        }
    }
}
