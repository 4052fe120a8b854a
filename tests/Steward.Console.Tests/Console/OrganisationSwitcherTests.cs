using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>One session holding two organisations: the switcher moves between them and each sees only its own objects.</summary>
public sealed class OrganisationSwitcherTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private const string Schema = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

    private static string ServerJson(string name) =>
        $$$"""{"$schema":"{{{Schema}}}","name":"{{{name}}}","description":"Only for one organisation","version":"1.0.0","packages":[{"registryType":"npm","registryBaseUrl":"https://registry.npmjs.org","identifier":"@example/{{{name.Split('/')[1]}}}","version":"1.0.0","transport":{"type":"stdio"}}]}""";

    private static async Task AddServerAsync(IPage page, string name)
    {
        await page.GetByRole(AriaRole.Link, new() { Name = "Registry", Exact = true }).ClickAsync();
        await page.GetByLabel("server.json", new() { Exact = true }).FillAsync(ServerJson(name));
        await page.GetByRole(AriaRole.Button, new() { Name = "Add server" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Added " + name);
    }

    private static async Task SwitchToAsync(IPage page, string label)
    {
        await page.GetByLabel("Organisation", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = label });
        await page.GetByRole(AriaRole.Button, new() { Name = "Switch" }).ClickAsync();
    }

    [ChromiumFact]
    public async Task A_second_organisation_is_added_to_the_session_and_the_switcher_shows_each_organisations_own_objects_only()
    {
        var acmeAdmin = await fixture.AddOrganisationAsync("acme", "Acme Corp");

        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await AddServerAsync(page, "com.example/demo-only");

        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in to another organisation" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Enter an admin token of another organisation");
        await page.GetByLabel("Admin token").FillAsync(acmeAdmin);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/o/acme/console$"));
        await Expect(page.GetByText("Profile of the organisation Acme Corp.")).ToBeVisibleAsync();
        var organisation = page.GetByLabel("Organisation", new() { Exact = true });
        await Expect(organisation.Locator("option")).ToHaveCountAsync(2);
        await Expect(organisation.Locator("option", new() { HasText = "Demo organisation (demo)" })).ToHaveCountAsync(1);
        await Expect(organisation.Locator("option", new() { HasText = "Acme Corp (acme)" })).ToHaveCountAsync(1);
        await Expect(organisation).ToHaveValueAsync("acme");
        await Expect(page.GetByText("Signed in with the token “admin of acme”")).ToBeVisibleAsync();

        // Acme does not see Demo's server; its own server is not visible in Demo.
        await page.GetByRole(AriaRole.Link, new() { Name = "Registry", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "com.example/demo-only" })).ToHaveCountAsync(0);
        await AddServerAsync(page, "com.example/acme-only");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "com.example/acme-only" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Article).Filter(new() { HasText = "registry:com.example/acme-only" })).Not.ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Article).Filter(new() { HasText = "com.example/demo-only" })).ToHaveCountAsync(0);

        await SwitchToAsync(page, "Demo organisation (demo)");
        await Expect(page).ToHaveURLAsync(new Regex("/o/demo/console$"));
        await Expect(page.GetByText("Profile of the organisation Demo organisation.")).ToBeVisibleAsync();
        await Expect(page.GetByText("Signed in with the token “bootstrap admin”")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Registry", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "com.example/demo-only" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "com.example/acme-only" })).ToHaveCountAsync(0);
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Article).Filter(new() { HasText = "com.example/acme-only" })).ToHaveCountAsync(0);

        await SwitchToAsync(page, "Acme Corp (acme)");
        await Expect(page).ToHaveURLAsync(new Regex("/o/acme/console$"));
        await page.GetByRole(AriaRole.Link, new() { Name = "Registry", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "com.example/acme-only" })).ToBeVisibleAsync();

        // An organisation the session holds no grant for is not opened.
        var other = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(other, acmeAdmin);
        await Expect(other).ToHaveURLAsync(new Regex("/o/acme/console$"));
        await Expect(other.GetByLabel("Organisation", new() { Exact = true }).Locator("option")).ToHaveTextAsync(["Acme Corp (acme)"]);
        await other.GotoAsync("/o/demo/console/registry");
        await Expect(other.GetByRole(AriaRole.Link, new() { Name = "com.example/demo-only" })).ToHaveCountAsync(0);
        await Expect(other).ToHaveURLAsync(new Regex("/console/sign-in\\?returnUrl="));
        await Expect(other.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
    }
}
