using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>An entry's life through the entry page: edit in place, publish a new version, deprecate and reactivate, delete and undelete.</summary>
public sealed class RegistryLifecycleTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private const string Schema = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

    private static string ServerJson(string name, string version, string description) =>
        $$$"""{"$schema":"{{{Schema}}}","name":"{{{name}}}","description":"{{{description}}}","version":"{{{version}}}","packages":[{"registryType":"npm","registryBaseUrl":"https://registry.npmjs.org","identifier":"@example/{{{name.Split('/')[1]}}}","version":"{{{version}}}","transport":{"type":"stdio"}}]}""";

    /// <summary>Adds the entry through the registry page's form and opens it from the list.</summary>
    private static async Task<IPage> AddAndOpenAsync(ConsoleFixture fixture, string name, string version, string description)
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Registry", Exact = true }).ClickAsync();
        await page.GetByLabel("server.json", new() { Exact = true }).FillAsync(ServerJson(name, version, description));
        await page.GetByRole(AriaRole.Button, new() { Name = "Add server" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Added {name} {version}");
        await page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = name, Level = 1 })).ToBeVisibleAsync();
        return page;
    }

    private static ILocator Row(IPage page, string name) =>
        page.GetByRole(AriaRole.Table).GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true }) });

    [ChromiumFact]
    public async Task Editing_a_version_changes_it_in_place_and_a_published_version_becomes_the_latest_in_the_list()
    {
        const string name = "com.example/forecast";
        var page = await AddAndOpenAsync(fixture, name, "1.0.0", "Forecasts");

        var edit = page.GetByLabel("server.json of version 1.0.0");
        await edit.FillAsync(ServerJson(name, "1.0.0", "Forecasts for every office"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Save this version" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync($"Version 1.0.0 of {name} is saved.");
        await Expect(page.GetByLabel("server.json of version 1.0.0")).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("Forecasts for every office"));

        // Changing the version in the edit form is refused beside the field: a version's name and version cannot change.
        await edit.FillAsync(ServerJson(name, "1.0.1", "Forecasts for every office"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Save this version" }).ClickAsync();
        await Expect(page.Locator("#edit-errors")).ToBeVisibleAsync();
        await Expect(page.GetByLabel("server.json of version 1.0.0")).ToHaveAttributeAsync("aria-invalid", "true");

        // The list shows the edited description.
        await page.GetByRole(AriaRole.Link, new() { Name = "← Registry" }).ClickAsync();
        await Expect(Row(page, name)).ToContainTextAsync("1.0.0 (latest)");
        await Expect(Row(page, name)).ToContainTextAsync("Forecasts for every office");

        // Publish 2.0.0 from the entry page.
        await page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true }).ClickAsync();
        await page.GetByLabel("server.json of the new version").FillAsync(ServerJson(name, "2.0.0", "Forecasts, now hourly"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Publish new version" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Published version 2.0.0 of {name}: it is the latest");
        var versions = page.GetByRole(AriaRole.Table, new() { Name = "Versions" });
        await Expect(versions.GetByRole(AriaRole.Row).Filter(new() { HasText = "2.0.0" })).ToContainTextAsync("2.0.0 (latest)");
        await Expect(versions.GetByRole(AriaRole.Row).Filter(new() { HasText = "1.0.0" })).Not.ToContainTextAsync("(latest)");

        await page.GetByRole(AriaRole.Link, new() { Name = "← Registry" }).ClickAsync();
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Server name contains" }).FillAsync("forecast");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        var latest = page.GetByRole(AriaRole.Table).GetByRole(AriaRole.Row).Filter(new() { HasText = "(latest)" });
        await Expect(latest).ToHaveCountAsync(1);
        await Expect(latest).ToContainTextAsync("2.0.0 (latest)");
        await Expect(latest).ToContainTextAsync("Forecasts, now hourly");
    }

    [ChromiumFact]
    public async Task A_version_is_deprecated_then_made_active_again_and_deleted_then_undeleted()
    {
        const string name = "com.example/lifecycle";
        var page = await AddAndOpenAsync(fixture, name, "1.0.0", "Lifecycle");
        var versions = page.GetByRole(AriaRole.Table, new() { Name = "Versions" });

        await page.GetByLabel("Deprecation message (optional)").FillAsync("moving to 2.x");
        await page.GetByRole(AriaRole.Button, new() { Name = "Deprecate" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync($"Version 1.0.0 of {name} is deprecated.");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Version 1.0.0: deprecated" })).ToBeVisibleAsync();
        await Expect(versions).ToContainTextAsync("moving to 2.x");
        await Expect(page.GetByText("This version is deprecated, so no export contains it now")).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Deprecate" })).ToHaveCountAsync(0);

        await page.GetByRole(AriaRole.Button, new() { Name = "Make active again" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync($"Version 1.0.0 of {name} is active again.");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Version 1.0.0: active" })).ToBeVisibleAsync();
        await Expect(versions).Not.ToContainTextAsync("moving to 2.x");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Make active again" })).ToHaveCountAsync(0);

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete version 1.0.0" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync($"Version 1.0.0 of {name} is deleted.");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Version 1.0.0: deleted" })).ToBeVisibleAsync();

        // Gone from the list unless deleted versions are included.
        await page.GetByRole(AriaRole.Link, new() { Name = "← Registry" }).ClickAsync();
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Server name contains" }).FillAsync("lifecycle");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table)).ToContainTextAsync("No server matches.");
        await page.GetByLabel("Include deleted versions").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(Row(page, name)).ToContainTextAsync("deleted");

        await page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Undelete" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync($"Version 1.0.0 of {name} is undeleted.");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Version 1.0.0: active" })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Link, new() { Name = "← Registry" }).ClickAsync();
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Server name contains" }).FillAsync("lifecycle");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(Row(page, name)).ToContainTextAsync("active");
    }
}
