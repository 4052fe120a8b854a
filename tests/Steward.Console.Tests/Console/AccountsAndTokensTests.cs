using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>
/// A new administrator gets a developer going without curl: an account made on the Accounts page, a developer token
/// made for it on the Tokens page (shown once), the token fetching the account's signed policy, revoked, refused.
/// </summary>
public sealed class AccountsAndTokensTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [ChromiumFact]
    public async Task An_account_and_a_developer_token_made_in_the_console_fetch_the_policy_until_the_token_is_revoked()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Accounts", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Accounts", Exact = true })).ToBeVisibleAsync();

        await page.GetByLabel("Slug").FillAsync("mobile");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Mobile team");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Created the account Mobile team (mobile).");
        // The profile switcher knows the new account at once (the page was loaded again after the change).
        await Expect(page.Locator("#switch-account")).ToContainTextAsync("Account: Mobile team (mobile)");

        await page.GetByLabel("New name of mobile").FillAsync("Mobile apps");
        await page.GetByRole(AriaRole.Row).Filter(new() { HasText = "mobile" }).GetByRole(AriaRole.Button, new() { Name = "Rename" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Renamed the account mobile to Mobile apps.");
        await ConsoleFixture.ScreenshotAsync(page, "console-accounts");

        await page.GetByRole(AriaRole.Row).Filter(new() { HasText = "mobile" }).GetByRole(AriaRole.Link, new() { Name = "Create a token" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Tokens", Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Account", new() { Exact = true })).ToHaveValueAsync("mobile");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("alice's laptop");
        await page.GetByLabel("Expires in (days)").FillAsync("30");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Copy the token “alice's laptop” now" })).ToBeVisibleAsync();
        var token = await page.GetByLabel("Token", new() { Exact = true }).InputValueAsync();
        Assert.StartsWith("stw_", token, StringComparison.Ordinal);
        await Expect(page.Locator("#login-command")).ToContainTextAsync($"steward login {fixture.BaseUrl.ToString().TrimEnd('/')} --allow-http --token {token}");
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "alice's laptop" });
        await Expect(row).ToContainTextAsync("developer");
        await Expect(row).ToContainTextAsync("mobile");
        await Expect(row).ToContainTextAsync("active");
        var expires = (await row.Locator("td").Nth(4).TextContentAsync())!;
        var days = (DateTimeOffset.Parse(expires, System.Globalization.CultureInfo.InvariantCulture) - fixture.Clock.GetUtcNow()).TotalDays;
        Assert.InRange(days, 29.9, 30.1);
        await ConsoleFixture.ScreenshotAsync(page, "console-tokens-created");

        // The developer's token fetches the signed policy of its account.
        using (var developer = fixture.Api(token))
        {
            using var policy = await developer.GetAsync("/api/v1/policy");
            Assert.True(policy.StatusCode == HttpStatusCode.OK, await policy.Content.ReadAsStringAsync());
        }

        // Shown once: the list never has it again.
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Console" }).GetByRole(AriaRole.Link, new() { Name = "Tokens", Exact = true }).ClickAsync();
        Assert.DoesNotContain(token, await page.ContentAsync(), StringComparison.Ordinal);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Copy the token “alice's laptop” now" })).ToHaveCountAsync(0);

        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke the token alice's laptop" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Revoked the token “alice's laptop”");
        await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = "alice's laptop" })).ToContainTextAsync("revoked");
        using (var developer = fixture.Api(token))
        {
            using var refused = await developer.GetAsync("/api/v1/policy");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // Every step is in the audit trail, as the console's admin.
        var actions = await AuditAsync();
        Assert.Contains(actions, a => a.Action == "account.create" && a.Object == "account:mobile");
        Assert.Contains(actions, a => a.Action == "account.rename" && a.Object == "account:mobile" && a.After?["name"]?.GetValue<string>() == "Mobile apps");
        Assert.Contains(actions, a => a.Action == "token.create" && a.After?["name"]?.GetValue<string>() == "alice's laptop");
        Assert.Contains(actions, a => a.Action == "token.revoke" && a.Before?["name"]?.GetValue<string>() == "alice's laptop");
        Assert.All(actions.Where(a => a.Object.StartsWith("token:", StringComparison.Ordinal)), a => Assert.DoesNotContain(token, a.Before?.ToJsonString() + a.After?.ToJsonString(), StringComparison.Ordinal));
    }

    [ChromiumFact]
    public async Task Deleting_an_account_revokes_its_tokens_after_a_review_and_frees_its_slug()
    {
        using var api = fixture.Api();
        using (var made = await api.PostAsync("/api/v1/orgs/demo/accounts", ConsoleFixture.Json("""{"slug":"leaving","name":"Leaving team"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, made.StatusCode);
        }

        using var created = await api.PostAsync("/api/v1/orgs/demo/tokens", ConsoleFixture.Json("""{"name":"bob","role":"developer","account":"leaving"}"""));
        var token = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["token"]!.GetValue<string>();
        using (var developer = fixture.Api(token))
        {
            Assert.Equal(HttpStatusCode.OK, (await developer.GetAsync("/api/v1/policy")).StatusCode);
        }

        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GotoAsync("/o/demo/console/accounts");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete the account leaving" }).ClickAsync();
        var review = page.Locator("section.confirm");
        await Expect(review.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Delete the account Leaving team (leaving)?");
        await Expect(review).ToContainTextAsync("Its 1 live token is revoked");
        await ConsoleFixture.ScreenshotAsync(page, "console-accounts-delete");
        // Nothing happened yet.
        using (var developer = fixture.Api(token))
        {
            Assert.Equal(HttpStatusCode.OK, (await developer.GetAsync("/api/v1/policy")).StatusCode);
        }

        await review.GetByRole(AriaRole.Button, new() { Name = "Delete leaving" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Deleted the account leaving; its tokens are revoked.");
        await Expect(page.GetByRole(AriaRole.Table)).Not.ToContainTextAsync("Leaving team");
        await Expect(page.Locator("#switch-account")).Not.ToContainTextAsync("leaving");
        using (var developer = fixture.Api(token))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await developer.GetAsync("/api/v1/policy")).StatusCode);
        }

        // The slug is free again: a new account of that name starts afresh.
        await page.GetByLabel("Slug").FillAsync("leaving");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Created the account leaving (leaving).");
        await page.GotoAsync("/o/demo/console/tokens");
        await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = "bob" })).ToContainTextAsync("revoked");

        var actions = await AuditAsync();
        Assert.Contains(actions, a => a.Action == "account.delete" && a.Object == "account:leaving" && a.Before?["tokensRevoked"]?.GetValue<long>() == 1);
    }

    [ChromiumFact]
    public async Task Bad_account_and_token_input_is_refused_beside_its_field_and_nothing_is_made()
    {
        using (var api = fixture.Api())
        using (var made = await api.PostAsync("/api/v1/orgs/demo/accounts", ConsoleFixture.Json("""{"slug":"checks"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, made.StatusCode);
        }

        var page = await fixture.NewPageAsync(javaScript: false);
        await ConsoleFixture.SignInAsync(page);
        await page.GotoAsync("/o/demo/console/accounts");
        await page.GetByLabel("Slug").FillAsync("Not A Slug");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await Expect(page.Locator("#slug-error")).ToContainTextAsync("lowercase letters, digits and '-'");
        await Expect(page.GetByLabel("Slug")).ToHaveAttributeAsync("aria-invalid", "true");

        await page.GotoAsync("/o/demo/console/tokens");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("no account");
        await page.GetByLabel("Account", new() { Exact = true }).SelectOptionAsync("");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        await Expect(page.Locator("#account-error")).ToContainTextAsync("required for a developer token");
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("The token was not created");

        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("too long");
        await page.GetByLabel("Account", new() { Exact = true }).SelectOptionAsync("checks");
        await page.GetByLabel("Expires in (days)").FillAsync("5000");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        await Expect(page.Locator("#expiresInDays-error")).ToContainTextAsync("expected whole days from 1 to 730");
        await Expect(page.GetByLabel("Expires in (days)")).ToHaveValueAsync("5000");
        await Expect(page.Locator("#new-token")).ToHaveCountAsync(0);

        using var admin = fixture.Api();
        var tokens = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/tokens"))!["tokens"]!.AsArray();
        Assert.DoesNotContain(tokens, t => t!["name"]!.GetValue<string>() is "no account" or "too long");
    }

    private sealed record Row(string Action, string Object, JsonNode? Before, JsonNode? After);

    private async Task<List<Row>> AuditAsync()
    {
        using var api = fixture.Api();
        var body = JsonNode.Parse(await api.GetStringAsync("/api/v1/orgs/demo/audit?limit=500"))!;
        return [.. body["audit"]!.AsArray().Select(r => new Row(r!["action"]!.GetValue<string>(), r["object"]!.GetValue<string>(), r["before"]?.DeepClone(), r["after"]?.DeepClone()))];
    }
}
