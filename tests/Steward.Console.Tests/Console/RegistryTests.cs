using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

public sealed class RegistryTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private const string Schema = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

    private static string ServerJson(string name, string version, string identifier = "@example/weather") =>
        $$$"""{"$schema":"{{{Schema}}}","name":"{{{name}}}","description":"Weather for the team","version":"{{{version}}}","packages":[{"registryType":"npm","registryBaseUrl":"https://registry.npmjs.org","identifier":"{{{identifier}}}","version":"{{{version}}}","transport":{"type":"stdio"}}]}""";

    [ChromiumFact]
    public async Task An_invalid_server_json_shows_each_error_beside_the_field_by_its_JSON_path_then_a_valid_one_is_added()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Registry", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Registry of approved MCP servers" })).ToBeVisibleAsync();

        var field = page.GetByLabel("server.json", new() { Exact = true });
        await field.FillAsync(ServerJson("com.example/weather", "1.0.0", "@example/has a space"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Add server" }).ClickAsync();
        var errors = page.Locator("#server-json-errors");
        await Expect(errors).ToContainTextAsync("packages[0].identifier");
        await Expect(field).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(field).ToHaveAttributeAsync("aria-describedby", new Regex("server-json-errors"));
        await ConsoleFixture.ScreenshotAsync(page, "console-registry-invalid");

        await field.FillAsync(ServerJson("com.example/weather", "1.0.0"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Add server" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Added com.example/weather 1.0.0");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "com.example/weather" })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Server name contains" }).FillAsync("weather");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table).Locator("tbody tr")).ToHaveCountAsync(1);
        await ConsoleFixture.ScreenshotAsync(page, "console-registry");
    }

    [ChromiumFact]
    public async Task An_entry_shows_each_host_format_says_why_Kiro_cannot_express_it_and_can_be_deprecated_republished_and_deleted()
    {
        using (var api = fixture.Api())
        {
            var secret = """{"$schema":"SCHEMA","name":"com.example/tickets","description":"Tickets","version":"2.0.0","remotes":[{"type":"streamable-http","url":"https://{tenant}.tickets.example.com/mcp","variables":{"tenant":{"description":"Your tenant","isRequired":true}}}]}""".Replace("SCHEMA", Schema, StringComparison.Ordinal);
            using var published = await api.PostAsync("/api/v1/orgs/demo/registry/servers", ConsoleFixture.Json(secret));
            Assert.True(published.IsSuccessStatusCode, await published.Content.ReadAsStringAsync());
        }

        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GotoAsync("/o/demo/console/registry?search=tickets");
        await page.GetByRole(AriaRole.Link, new() { Name = "com.example/tickets" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "com.example/tickets", Level = 1 })).ToBeVisibleAsync();

        var kiro = page.GetByRole(AriaRole.Region, new() { Name = "Kiro registry file" });
        await Expect(kiro).ToContainTextAsync("Cannot be expressed in the Kiro file, because:");
        await Expect(kiro).ToContainTextAsync("tenant");
        // Gateway mode, the exports' default: the allowlists admit the gateway's argv for the entry, not the remote's URL.
        var copilot = page.GetByRole(AriaRole.Region, new() { Name = "GitHub Copilot managed-settings.json" });
        await Expect(copilot).ToContainTextAsync("\"--server\",");
        await Expect(copilot).ToContainTextAsync("\"com.example/tickets\"");
        await Expect(copilot).Not.ToContainTextAsync("tickets.example.com");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Cursor allowlist" })).ToContainTextAsync("gateway --server com.example/tickets");
        await ConsoleFixture.ScreenshotAsync(page, "console-registry-entry");

        await page.GetByLabel("Deprecation message (optional)").FillAsync("use 3.0.0");
        await page.GetByRole(AriaRole.Button, new() { Name = "Deprecate" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Version 2.0.0 of com.example/tickets is deprecated.");
        await Expect(page.GetByRole(AriaRole.Table)).ToContainTextAsync("use 3.0.0");

        // Publish 3.0.0 from the form prefilled with this version.
        var publish = page.GetByLabel("server.json of the new version");
        var text = (await publish.InputValueAsync()).Replace("2.0.0", "3.0.0", StringComparison.Ordinal);
        await publish.FillAsync(text);
        await page.GetByRole(AriaRole.Button, new() { Name = "Publish new version" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Published version 3.0.0 of com.example/tickets");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Version 3.0.0: active" })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete version 3.0.0" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Version 3.0.0 of com.example/tickets is deleted.");
        using (var api = fixture.Api())
        {
            var list = await api.GetStringAsync("/o/demo/registry/v0.1/servers?search=tickets");
            Assert.DoesNotContain(System.Text.Json.Nodes.JsonNode.Parse(list)!["servers"]!.AsArray(), s => s!["server"]!["version"]!.GetValue<string>() == "3.0.0");
            var audit = await api.GetStringAsync("/api/v1/orgs/demo/audit?action=registry.delete");
            Assert.Contains("registry:com.example/tickets@3.0.0", audit, StringComparison.Ordinal);
        }
    }

    [ChromiumFact]
    public async Task A_registry_file_is_imported_from_an_upload_and_a_refused_registry_URL_says_why()
    {
        var file = Path.Combine(Path.GetTempPath(), "steward-console-import-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(file, "[" + ServerJson("com.example/imported-one", "1.0.0", "@example/one") + "," + ServerJson("com.example/imported-two", "0.1.0", "@example/two") + "]");
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GotoAsync("/o/demo/console/registry");
        await page.GetByLabel("Registry file").SetInputFilesAsync(file);
        await page.GetByRole(AriaRole.Button, new() { Name = "Import the file" }).ClickAsync();
        await Expect(page.Locator("#import-result")).ToContainTextAsync("2 created, 0 updated, 0 unchanged, 0 skipped");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "com.example/imported-two" })).ToBeVisibleAsync();

        await page.GetByLabel("Registry URL").FillAsync("http://registry.example.com");
        await page.GetByRole(AriaRole.Button, new() { Name = "Import from the registry" }).ClickAsync();
        await Expect(page.Locator("#import-result")).ToContainTextAsync("Nothing was imported: url is refused");
        File.Delete(file);
    }
}
