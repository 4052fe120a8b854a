using System.Net;
using Microsoft.Playwright;
using Steward.Tests.Tls;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>The Settings page of a profile whose registry is external: the copy in force, the last attempt with its problems by JSON path, and "Refresh now".</summary>
public sealed class ExternalRegistryConsoleTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [ChromiumFact]
    public async Task The_admin_refreshes_an_external_registry_that_became_malformed_and_sees_its_problems_by_path_while_the_last_good_copy_stays()
    {
        await using var registry = await HttpsRegistry.StartAsync(fixture.Ca.Server);
        registry.Document = """{"servers":[{"server":{"name":"alpha","description":"a","version":"1.0.0","packages":[{"registryType":"npm","identifier":"@acme/alpha","version":"1.0.0","transport":{"type":"stdio"}}]}}]}""";
        using var api = fixture.Api();
        using (var put = await api.PutAsync("/api/v1/orgs/demo/profile", ConsoleFixture.Json($$"""{"registryMode":"external","registryUrl":"{{registry.Url}}"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using (var refresh = await api.PostAsync("/api/v1/orgs/demo/profile/registry-sync", null))
        {
            Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
        }

        registry.Document = """{"servers":[{"server":{"name":"alpha","description":"a","version":"1.0.0","packages":[{"registryType":"npm","identifier":"@acme/alpha","version":"1.0.0","transport":{"type":"stdio"}}]}},{"server":{"name":"gamma"}}]}""";
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        var panel = page.GetByRole(AriaRole.Region, new() { Name = "External registry" });
        await Expect(panel).ToContainTextAsync("In force: 1 server versions");
        await panel.GetByRole(AriaRole.Button, new() { Name = "Refresh now" }).ClickAsync();
        await Expect(panel.GetByRole(AriaRole.Status)).ToContainTextAsync("Not refreshed:");
        await Expect(panel).ToContainTextAsync("invalid");
        await Expect(panel.GetByRole(AriaRole.Table)).ToContainTextAsync("servers[1]");
        await Expect(panel).ToContainTextAsync("In force: 1 server versions");
        await ConsoleFixture.ScreenshotAsync(page, "console-external-registry-problems");

        // Put right upstream: refreshed, the new copy is in force.
        registry.Document = """{"servers":[{"server":{"name":"alpha","description":"a","version":"1.0.0","packages":[{"registryType":"npm","identifier":"@acme/alpha","version":"1.0.0","transport":{"type":"stdio"}}]}},{"server":{"name":"gamma","description":"g","version":"1.0.0","packages":[{"registryType":"npm","identifier":"@acme/gamma","version":"1.0.0","transport":{"type":"stdio"}}]}}]}""";
        await panel.GetByRole(AriaRole.Button, new() { Name = "Refresh now" }).ClickAsync();
        await Expect(panel.GetByRole(AriaRole.Status)).ToContainTextAsync("Refreshed:");
        await Expect(panel).ToContainTextAsync("In force: 2 server versions");
        await Expect(panel.GetByRole(AriaRole.Table)).ToHaveCountAsync(0);

        // Without script the button is a plain form post.
        var plain = await fixture.NewPageAsync(javaScript: false);
        await ConsoleFixture.SignInAsync(plain);
        var plainPanel = plain.GetByRole(AriaRole.Region, new() { Name = "External registry" });
        await plainPanel.GetByRole(AriaRole.Button, new() { Name = "Refresh now" }).ClickAsync();
        await Expect(plainPanel.GetByRole(AriaRole.Status)).ToContainTextAsync("Refreshed: the registry is unchanged.");
    }
}
