using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>Console sign-in through a local OpenID Connect issuer: the browser follows the redirects to the issuer and back.</summary>
public sealed class OidcSignInTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private static async Task ConfigureAsync(ConsoleFixture fixture, LocalIssuer issuer)
    {
        using var api = fixture.Api();
        using var put = await api.PutAsync("/api/v1/orgs/demo/oidc", new StringContent(
            $$"""{"issuer": "{{issuer.Issuer}}", "clientId": "{{LocalIssuer.ClientId}}", "clientSecret": "{{LocalIssuer.ClientSecret}}", "adminGroups": ["steward-admins"]}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
    }

    [ChromiumFact]
    public async Task A_member_of_an_admin_group_signs_in_with_the_identity_provider_and_anyone_else_gets_the_403_page()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await ConfigureAsync(fixture, issuer);

        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/o/demo/console");
        await Expect(page).ToHaveURLAsync(new Regex("/console/sign-in"));
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with " + issuer.Issuer }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/o/demo/console$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Shared settings", Level = 1 })).ToBeVisibleAsync();
        var cookies = await page.Context.CookiesAsync();
        var session = cookies.Single(c => c.Name == "steward_console");
        Assert.Equal((true, SameSiteAttribute.Strict), (session.HttpOnly, session.SameSite));
        Assert.DoesNotContain(cookies, c => c.Name == "steward_oidc");

        // A session cookie that existed before the sign-in is not the one the sign-in issues, and no longer signs anyone in.
        var before = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(before);
        var planted = (await before.Context.CookiesAsync()).Single(c => c.Name == "steward_console");
        var victim = await fixture.NewPageAsync();
        await victim.Context.AddCookiesAsync([new Microsoft.Playwright.Cookie { Name = planted.Name, Value = planted.Value, Domain = planted.Domain, Path = planted.Path, HttpOnly = true, SameSite = SameSiteAttribute.Strict }]);
        await victim.GotoAsync("/console/sign-in?org=demo");
        await victim.GetByRole(AriaRole.Link, new() { Name = "Sign in with " + issuer.Issuer }).ClickAsync();
        await Expect(victim).ToHaveURLAsync(new Regex("/o/demo/console$"));
        Assert.NotEqual(planted.Value, (await victim.Context.CookiesAsync()).Single(c => c.Name == "steward_console").Value);
        await before.GotoAsync("/o/demo/console");
        await Expect(before).ToHaveURLAsync(new Regex("/console/sign-in"));

        issuer.User = issuer.User with { Subject = "bob-0002", Email = "bob@example.com", Groups = ["engineering"] };
        var developer = await fixture.NewPageAsync();
        await developer.GotoAsync("/o/demo/console");
        await developer.GetByRole(AriaRole.Link, new() { Name = "Sign in with " + issuer.Issuer }).ClickAsync();
        await Expect(developer.GetByRole(AriaRole.Heading, new() { Name = "403 · The console is for administrators" })).ToBeVisibleAsync();
        await Expect(developer.Locator("body")).ToContainTextAsync("none of your groups is an admin group");
        Assert.DoesNotContain((await developer.Context.CookiesAsync()), c => c.Name == "steward_console");
    }
}
