using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

public sealed class SignInAndSettingsTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [ChromiumFact]
    public async Task A_wrong_token_is_refused_with_an_error_beside_the_field_and_the_admin_token_opens_the_shared_settings()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page, "stw_not-a-token-of-this-server-at-all");
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("That token is not valid: it is unknown, expired or revoked.");
        await Expect(page.GetByLabel("Admin token")).ToHaveAttributeAsync("aria-invalid", "true");
        await ConsoleFixture.ScreenshotAsync(page, "console-sign-in");

        await ConsoleFixture.SignInAsync(page);
        await Expect(page).ToHaveURLAsync(new Regex("/o/demo/console$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Shared settings", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Agents can use Model Context Protocol (MCP) servers")).ToBeCheckedAsync();
        Assert.DoesNotContain(ConsoleFixture.AdminToken, await page.ContentAsync(), StringComparison.Ordinal);
        var cookie = (await page.Context.CookiesAsync()).Single(c => c.Name == "steward_console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.NotEqual(ConsoleFixture.AdminToken, cookie.Value);
    }

    [ChromiumFact]
    public async Task Signed_in_with_the_bootstrap_token_the_console_asks_to_replace_it_and_with_a_named_token_it_does_not()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await Expect(page.Locator("#rotate-token")).ToContainTextAsync("of this session never");
        await Expect(page.Locator("#rotate-token")).ToContainTextAsync("revoke this one");

        using var api = fixture.Api();
        using var created = await api.PostAsync("/api/v1/orgs/demo/tokens", new StringContent("""{"name":"alice (admin)","role":"admin","expiresInDays":30}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var named = System.Text.Json.Nodes.JsonNode.Parse(await created.Content.ReadAsStringAsync())!["token"]!.GetValue<string>();
        var other = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(other, named);
        await Expect(other.GetByText("Signed in with the token “alice (admin)”")).ToBeVisibleAsync();
        await Expect(other.Locator("#rotate-token")).ToHaveCountAsync(0);
    }

    [ChromiumFact]
    public async Task Signing_in_issues_a_new_session_so_a_session_cookie_planted_before_sign_in_gains_nothing()
    {
        // The attacker signs in to an organisation of their own and plants that session's cookie in the victim's browser.
        var rivalAdmin = await fixture.AddOrganisationAsync("rival-fixation", "Rival");
        var attacker = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(attacker, rivalAdmin);
        await Expect(attacker).ToHaveURLAsync(new Regex("/o/rival-fixation/console$"));
        var planted = (await attacker.Context.CookiesAsync()).Single(c => c.Name == "steward_console");
        var victim = await fixture.NewPageAsync();
        await victim.Context.AddCookiesAsync([new Microsoft.Playwright.Cookie { Name = planted.Name, Value = planted.Value, Domain = planted.Domain, Path = planted.Path, HttpOnly = true, SameSite = SameSiteAttribute.Strict }]);

        await ConsoleFixture.SignInAsync(victim);

        await Expect(victim).ToHaveURLAsync(new Regex("/o/demo/console$"));
        var issued = (await victim.Context.CookiesAsync()).Single(c => c.Name == "steward_console");
        Assert.NotEqual(planted.Value, issued.Value);
        // The victim's session holds the victim's organisation alone, not the planted one.
        await Expect(victim.GetByLabel("Organisation", new() { Exact = true }).Locator("option", new() { HasText = "Rival" })).ToHaveCountAsync(0);
        // The planted id is worth nothing now: neither the victim's organisation nor the attacker's own.
        await attacker.GotoAsync("/o/demo/console");
        await Expect(attacker).ToHaveURLAsync(new Regex("/console/sign-in"));
        await attacker.GotoAsync("/o/rival-fixation/console");
        await Expect(attacker).ToHaveURLAsync(new Regex("/console/sign-in"));
        await victim.GotoAsync("/o/demo/console/registry");
        await Expect(victim).ToHaveURLAsync(new Regex("/o/demo/console/registry$"));
    }

    [ChromiumFact]
    public async Task Turning_MCP_off_shows_what_it_does_to_developers_before_saving_and_the_change_lands_in_the_audit_trail()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByLabel("Agents can use Model Context Protocol (MCP) servers").UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();

        var review = page.GetByRole(AriaRole.Region, new() { Name = "Review: what this change does to developers" });
        await Expect(review).ToContainTextAsync("MCP off: every developer's gateway in the organisation Demo");
        await Expect(review).ToContainTextAsync("stops all MCP servers at their next sync (within 24 h");
        await Expect(review).ToContainTextAsync("Claude Code exports will contain an empty mcpServers");
        await ConsoleFixture.ScreenshotAsync(page, "console-settings-review");

        // Nothing is saved by the review.
        using (var api = fixture.Api())
        {
            Assert.Contains("\"mcpEnabled\":true", await api.GetStringAsync("/api/v1/orgs/demo/profile"), StringComparison.Ordinal);
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved: the profile of the organisation");
        await Expect(page.GetByLabel("Agents can use Model Context Protocol (MCP) servers")).Not.ToBeCheckedAsync();
        using (var api = fixture.Api())
        {
            Assert.Contains("\"mcpEnabled\":false", await api.GetStringAsync("/api/v1/orgs/demo/profile"), StringComparison.Ordinal);
            using var export = await api.GetAsync("/api/v1/orgs/demo/exports/claude-managed-mcp");
            Assert.Equal("{\"mcpServers\":{}}", await export.Content.ReadAsStringAsync());
        }

        await page.GetByRole(AriaRole.Link, new() { Name = "See it in the audit trail" }).ClickAsync();
        var row = page.GetByRole(AriaRole.Article).Filter(new() { HasText = "profile.update" }).First;
        await Expect(row).ToContainTextAsync("profile:organisation");
        await Expect(row).ToContainTextAsync("bootstrap admin");
        await Expect(row.Locator("ins", new() { HasText = "\"mcpEnabled\": false" })).ToBeVisibleAsync();
        await Expect(row.Locator("del", new() { HasText = "\"mcpEnabled\": true" })).ToBeVisibleAsync();
        await ConsoleFixture.ScreenshotAsync(page, "console-audit");

        // Back on, for the other tests.
        await page.GetByRole(AriaRole.Link, new() { Name = "Shared settings" }).ClickAsync();
        await page.GetByLabel("Agents can use Model Context Protocol (MCP) servers").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        await Expect(review).ToContainTextAsync("may run approved MCP servers again");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved");
        await ConsoleFixture.ScreenshotAsync(page, "console-settings");
    }

    [ChromiumFact]
    public async Task Recording_argument_values_warns_about_secrets_before_saving_and_stays_on_when_another_setting_changes()
    {
        const string Label = "Record the argument values of tool calls";
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await Expect(page.GetByLabel(Label)).Not.ToBeCheckedAsync();
        await page.GetByLabel(Label).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();

        var review = page.GetByRole(AriaRole.Region, new() { Name = "Review: what this change does to developers" });
        await Expect(review).ToContainTextAsync("Argument values may contain secrets or personal data");
        await Expect(review).ToContainTextAsync("stored in each developer's local audit log and sent to this server");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved: the profile of the organisation");
        using (var api = fixture.Api())
        {
            Assert.Contains("\"auditToolArguments\":true", await api.GetStringAsync("/api/v1/orgs/demo/profile"), StringComparison.Ordinal);
        }

        // Changing another setting from the page keeps it on (the page sends every setting it shows).
        await page.GetByLabel("Agents can use web tools").UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved");
        await Expect(page.GetByLabel(Label)).ToBeCheckedAsync();
        using (var api = fixture.Api())
        {
            var profile = await api.GetStringAsync("/api/v1/orgs/demo/profile");
            Assert.Contains("\"webToolsEnabled\":false", profile, StringComparison.Ordinal);
            Assert.Contains("\"auditToolArguments\":true", profile, StringComparison.Ordinal);
        }

        // Back to the defaults, for the other tests.
        await page.GetByLabel("Agents can use web tools").CheckAsync();
        await page.GetByLabel(Label).UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        await Expect(review).ToContainTextAsync("stop recording argument values");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved");
    }

    [ChromiumFact]
    public async Task An_invalid_external_registry_URL_is_shown_beside_its_field()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByLabel("External: a registry at another URL").CheckAsync();
        await page.GetByLabel("MCP registry URL (for an external registry)").FillAsync("http://registry.example.com");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        await Expect(page.Locator("#registryUrl-error")).ToContainTextAsync("expected an absolute https URL");
        await Expect(page.GetByLabel("MCP registry URL (for an external registry)")).ToHaveAttributeAsync("aria-invalid", "true");
    }

    [ChromiumFact]
    public async Task A_developer_token_gets_the_403_page()
    {
        var developer = await fixture.DeveloperTokenAsync();
        var page = await fixture.NewPageAsync();
        var response = await page.GotoAsync("/console/sign-in");
        await page.GetByLabel("Admin token").FillAsync(developer);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("403 · The console is for administrators");
        Assert.DoesNotContain((await page.Context.CookiesAsync()), c => c.Name == "steward_console");
        await ConsoleFixture.ScreenshotAsync(page, "console-403");

        // Without JavaScript's enhanced form the answer is a 403 status.
        using var client = new HttpClient(new HttpClientHandler { UseCookies = true, CookieContainer = new CookieContainer() }) { BaseAddress = fixture.BaseUrl };
        var form = await client.GetStringAsync("/console/sign-in");
        var antiforgery = Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var post = await client.PostAsync("/console/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "sign-in",
            ["__RequestVerificationToken"] = antiforgery,
            ["Token"] = developer,
        }));
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.Contains("The console is for administrators", await post.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [ChromiumFact]
    public async Task Pages_carry_a_strict_content_security_policy_and_a_form_post_without_its_antiforgery_token_is_refused()
    {
        var page = await fixture.NewPageAsync();
        var response = await page.GotoAsync("/console/sign-in");
        var headers = await response!.AllHeadersAsync();
        Assert.Contains("default-src 'self'", headers["content-security-policy"], StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", headers["content-security-policy"], StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", headers["content-security-policy"], StringComparison.Ordinal);
        Assert.Equal("nosniff", headers["x-content-type-options"]);
        Assert.Equal("no-referrer", headers["referrer-policy"]);

        using var client = new HttpClient { BaseAddress = fixture.BaseUrl };
        using var post = await client.PostAsync("/console/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "sign-in",
            ["Token"] = ConsoleFixture.AdminToken,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        Assert.False(post.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("steward_console=", StringComparison.Ordinal)));
    }

    [ChromiumFact]
    public async Task Signing_out_ends_the_session_and_a_session_left_idle_for_30_minutes_expires()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Shared settings" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Signed out");
        await page.GotoAsync("/o/demo/console/registry");
        await Expect(page).ToHaveURLAsync(new Regex("/console/sign-in\\?returnUrl="));

        // Back in through the return URL; then 31 minutes pass without a request.
        await page.GetByLabel("Admin token").FillAsync(ConsoleFixture.AdminToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/o/demo/console/registry$"));
        fixture.Clock.Advance(TimeSpan.FromMinutes(31));
        await page.GotoAsync("/o/demo/console/models");
        await Expect(page).ToHaveURLAsync(new Regex("/console/sign-in\\?returnUrl=.*&expired=1"));
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Your session has ended");
    }
}
