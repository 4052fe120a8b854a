using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>Keyboard-only use, an accessible name on every control, and the settings save with JavaScript off.</summary>
public sealed class AccessibilityAndNoScriptTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private const string Mcp = "Agents can use Model Context Protocol (MCP) servers";
    private const string WebTools = "Agents can use web tools";

    /// <summary>Presses Tab until <paramref name="target"/> has the focus (as a keyboard user would), failing after <paramref name="limit"/> presses.</summary>
    private static async Task TabToAsync(IPage page, ILocator target, int limit = 60)
    {
        for (var i = 0; i < limit; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await target.EvaluateAsync<bool>("e => e === document.activeElement"))
            {
                await Expect(target).ToBeFocusedAsync();
                return;
            }
        }

        Assert.Fail($"{limit} presses of Tab never reached {target}");
    }

    [ChromiumFact]
    public async Task Signing_in_and_reviewing_and_saving_a_settings_change_work_with_the_keyboard_alone()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/sign-in");

        // The token field is the first stop on the sign-in page.
        var token = page.GetByLabel("Admin token");
        await TabToAsync(page, token, limit: 3);
        await page.Keyboard.TypeAsync(ConsoleFixture.AdminToken);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex("/o/demo/console$"));

        // The skip link is the first stop on a console page and moves the focus to the content.
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Skip to content" })).ToBeFocusedAsync();

        var web = page.GetByLabel(WebTools);
        await Expect(web).ToBeCheckedAsync();
        await TabToAsync(page, web);
        await page.Keyboard.PressAsync("Space");
        await Expect(web).Not.ToBeCheckedAsync();
        await TabToAsync(page, page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }));
        await page.Keyboard.PressAsync("Enter");

        var review = page.GetByRole(AriaRole.Region, new() { Name = "Review: what this change does to developers" });
        await Expect(review).ToContainTextAsync("Web search and web fetch tools: on → off");
        var save = page.GetByRole(AriaRole.Button, new() { Name = "Save changes" });
        await TabToAsync(page, save);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved: the profile of the organisation Demo");
        await Expect(page.GetByLabel(WebTools)).Not.ToBeCheckedAsync();

        // And back, still by keyboard.
        web = page.GetByLabel(WebTools);
        await web.FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await TabToAsync(page, page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }));
        await page.Keyboard.PressAsync("Enter");
        await TabToAsync(page, page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }));
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved");
        await Expect(page.GetByLabel(WebTools)).ToBeCheckedAsync();
    }

    [ChromiumFact]
    public async Task Every_field_of_every_page_has_an_accessible_name()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/sign-in");
        await AssertEveryControlNamedAsync(page, 1);
        await Expect(page.GetByLabel("Admin token")).ToHaveAttributeAsync("type", "password");

        await ConsoleFixture.SignInAsync(page);
        await Expect(page).ToHaveURLAsync(new Regex("/o/demo/console$"));
        foreach (var label in new[]
        {
            Mcp, WebTools, "None: no allowlist, any server may run", "Hosted: this server's registry of approved servers",
            "External: a registry at another URL", "MCP registry URL (for an external registry)", "Sync interval (minutes)",
            "Maximum offline age (hours)", "Control which models are available to users", "Organisation", "Profile",
        })
        {
            await Expect(page.GetByLabel(label, new() { Exact = true })).ToBeVisibleAsync();
        }

        await AssertEveryControlNamedAsync(page, 10);

        foreach (var (tab, fields) in new (string, string[])[]
        {
            ("Registry", ["Server name contains", "Include deleted versions", "server.json", "Registry URL", "Registry file"]),
            ("Models", ["Control which models are available to users", "Claude Haiku 4.5", "New models wait for approval (arrive disabled)",
                "New GA models with regional inference arrive enabled", "Apply a residency rule", "Allow regional inference",
                "Allow global (cross-region) inference", "Allowed geographies"]),
            ("Audit", ["Actor", "Action", "Object", "From (UTC)", "Until (UTC)"]),
            ("Exports", []),
        })
        {
            await page.GetByRole(AriaRole.Link, new() { Name = tab, Exact = true }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Link, new() { Name = tab, Exact = true })).ToHaveAttributeAsync("aria-current", "page");
            foreach (var field in fields)
            {
                await Expect(page.GetByLabel(field, new() { Exact = true })).ToBeVisibleAsync();
            }

            await AssertEveryControlNamedAsync(page, fields.Length);
        }

        // The tool calls gateways sent, under Audit.
        await page.GotoAsync("/o/demo/console/audit/tool-calls");
        foreach (var field in new[] { "Server", "Tool", "Decision" })
        {
            await Expect(page.GetByLabel(field, new() { Exact = true })).ToBeVisibleAsync();
        }

        await AssertEveryControlNamedAsync(page, 3);

        // An entry's page: its forms and the host formats' documents.
        await page.GotoAsync("/o/demo/console/registry");
        await page.GetByRole(AriaRole.Table).GetByRole(AriaRole.Link).First.ClickAsync();
        await Expect(page.GetByLabel("Deprecation message (optional)")).ToBeVisibleAsync();
        await Expect(page.GetByLabel(new Regex("^server\\.json of version "))).ToBeVisibleAsync();
        await Expect(page.GetByLabel("server.json of the new version")).ToBeVisibleAsync();
        await AssertEveryControlNamedAsync(page, 3);
    }

    /// <summary>Every visible input, select, textarea and button of the page has a non-empty accessible name.</summary>
    private static async Task AssertEveryControlNamedAsync(IPage page, int atLeast)
    {
        var controls = page.Locator("input:not([type=hidden]), select, textarea, button");
        var count = await controls.CountAsync();
        Assert.True(count >= atLeast, $"{page.Url}: {count} controls, expected at least {atLeast}");
        for (var i = 0; i < count; i++)
        {
            var control = controls.Nth(i);
            await Expect(control).ToHaveAccessibleNameAsync(new Regex("\\S"));
        }
    }

    [ChromiumFact]
    public async Task With_JavaScript_off_an_administrator_signs_in_reviews_and_saves_a_settings_change()
    {
        var page = await fixture.NewPageAsync(javaScript: false);
        await ConsoleFixture.SignInAsync(page);
        await Expect(page).ToHaveURLAsync(new Regex("/o/demo/console$"));

        await page.GetByLabel("Sync interval (minutes)").FillAsync("720");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        var review = page.GetByRole(AriaRole.Region, new() { Name = "Review: what this change does to developers" });
        await Expect(review).ToContainTextAsync("Sync interval");
        using (var api = fixture.Api())
        {
            Assert.Contains("\"syncIntervalSeconds\":86400", await api.GetStringAsync("/api/v1/orgs/demo/profile"), StringComparison.Ordinal);
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved: the profile of the organisation Demo");
        await Expect(page.GetByLabel("Sync interval (minutes)")).ToHaveValueAsync("720");
        using (var api = fixture.Api())
        {
            Assert.Contains("\"syncIntervalSeconds\":43200", await api.GetStringAsync("/api/v1/orgs/demo/profile"), StringComparison.Ordinal);
        }

        // A fresh load (a plain GET) shows the saved value; then it is put back, still without script.
        await page.GetByRole(AriaRole.Link, new() { Name = "Shared settings" }).ClickAsync();
        await Expect(page.GetByLabel("Sync interval (minutes)")).ToHaveValueAsync("720");
        await page.GetByLabel("Sync interval (minutes)").FillAsync("1440");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved");
        await Expect(page.GetByLabel("Sync interval (minutes)")).ToHaveValueAsync("1440");
    }
}
