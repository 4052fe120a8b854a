using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Steward.Core.Registry;
using Steward.Server.Exports;
using Steward.Server.Organisations;

namespace Steward.Server.Tests.Governance;

public sealed class ExportTests(ExportTests.Fixture fixture) : IClassFixture<ExportTests.Fixture>
{
    /// <summary>
    /// The demo organisation with the registry examples imported (a PyPI, an OCI and a remote server beside its npm ones),
    /// plus a remote with a URL template, a server with named arguments, and a deleted version.
    /// </summary>
    public sealed class Fixture : IAsyncLifetime
    {
        internal GovernanceServer Server { get; private set; } = null!;
        public string Developer { get; private set; } = "";
        public string OtherAdmin { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Server = await GovernanceServer.StartAsync();
            await Server.CreateAccountAsync("platform");
            await Server.CreateAccountAsync("offline");
            Developer = (await Server.CreateTokenAsync("developer", "platform")).Token;
            (OtherAdmin, _) = await Server.AddOrganisationAsync("other");
            using var admin = Server.Client(GovernanceServer.AdminToken);
            await RegistryExamples.ImportAsync(admin);
            foreach (var json in new[] { TemplatedRemote, NamedArguments, NugetOnly, TestServer.ServerJson("com.example/revoked", "1.0.0"), TestServer.ServerJson("com.example/revoked", "2.0.0") })
            {
                using var response = await admin.PostAsync("/api/v1/orgs/demo/registry/servers", GovernanceServer.Json(json));
                Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
            }

            using var deleted = await admin.PatchAsync("/api/v1/orgs/demo/registry/servers/com.example%2Frevoked/versions/1.0.0/status", GovernanceServer.Json("""{"status":"deleted"}"""));
            Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
            await Server.PutProfileAsync("/api/v1/orgs/demo/accounts/offline/profile", """{"mcpEnabled":false,"webToolsEnabled":false}""");
        }

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    private const string TemplatedRemote = """
        {"name":"com.example/tenant-remote","description":"A remote per tenant","version":"1.0.0",
         "remotes":[{"type":"streamable-http","url":"https://{tenant}.example.com/mcp","variables":{"tenant":{"description":"Tenant","isRequired":true}}}]}
        """;

    private const string NamedArguments = """
        {"name":"com.example/named","description":"Named arguments with fixed values","version":"3.1.0",
         "packages":[{"registryType":"npm","identifier":"@example/named","version":"3.1.0","transport":{"type":"stdio"},
           "packageArguments":[{"type":"named","name":"--mode","value":"read-only"},{"type":"named","name":"--verbose","format":"boolean","value":"true"}],
           "environmentVariables":[{"name":"LOG_LEVEL","value":"info"}]}]}
        """;

    private const string NugetOnly = """
        {"name":"com.example/dotnet-only","description":"A NuGet package","version":"0.4.0",
         "packages":[{"registryType":"nuget","identifier":"Example.Server","version":"0.4.0","transport":{"type":"stdio"}}]}
        """;

    private async Task<(HttpResponseMessage Response, string Body)> GetAsync(string path, string? token)
    {
        using var client = fixture.Server.Client(token);
        var response = await client.GetAsync(path);
        return (response, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_kiro_file_validates_as_a_kiro_file_with_flat_names_and_pinned_identifiers()
    {
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/kiro", fixture.Developer);
        using var _ = response;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var loaded = RegistryLoader.Load(Encoding.UTF8.GetBytes(body), RegistryShape.KiroFile);
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Problems));
        Assert.DoesNotContain(loaded.Problems, p => p.IsError);
        var servers = loaded.Document!.Entries.Select(e => e.Server).ToDictionary(s => s.Name);
        Assert.Equal("@modelcontextprotocol/server-everything@2026.8.31", servers["io.github.modelcontextprotocol.server-everything"].Packages!.Single().Identifier);
        Assert.Equal("mcp-server-fetch==2026.10.24", servers["io.github.modelcontextprotocol.server-fetch"].Packages!.Single().Identifier);
        Assert.Equal("https://mcp.notion.com/mcp", servers["com.notion.mcp"].Remotes!.Single().Url);
        // A named argument with a fixed value becomes the flag then its value, as the launcher builds it.
        var named = servers["com.example.named"].Packages!.Single();
        Assert.Equal(["--mode", "read-only", "--verbose"], named.PackageArguments!.Select(a => a.Value!));
        Assert.Equal("info", named.EnvironmentVariables!.Single(e => e.Name == "LOG_LEVEL").Value);
        Assert.All(servers.Values, s => Assert.Null(s.Packages?.SingleOrDefault()?.Version));
        Assert.True(int.Parse(response.Headers.GetValues(ExportsApi.SkippedHeader).Single(), System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public async Task Entries_the_kiro_file_cannot_express_are_in_the_report_with_their_reasons_and_never_dropped_silently()
    {
        var (file, fileBody) = await GetAsync("/api/v1/orgs/demo/exports/kiro", fixture.Developer);
        file.Dispose();
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/kiro/report", fixture.Developer);
        using var _ = response;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = JsonNode.Parse(body)!;
        var skipped = report["skipped"]!.AsArray().ToDictionary(s => (string)s!["name"]!, s => string.Join(" | ", s!["reasons"]!.AsArray().Select(r => (string)r!)));

        Assert.Contains("no fixed value", skipped["io.github.github/github-mcp-server"], StringComparison.Ordinal);
        Assert.Contains("packageArguments[0]", skipped["io.github.modelcontextprotocol/server-filesystem"], StringComparison.Ordinal);
        Assert.Contains("{tenant}", skipped["com.example/tenant-remote"], StringComparison.Ordinal);
        Assert.Contains("nuget", skipped["com.example/dotnet-only"], StringComparison.Ordinal);

        // Every admitted entry is either in the file or in the report.
        var exported = (int)report["exported"]!;
        Assert.Equal(JsonNode.Parse(fileBody)!["servers"]!.AsArray().Count, exported);
        Assert.Equal(10, exported + skipped.Count);
        Assert.Equal(skipped.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), file.Headers.GetValues(ExportsApi.SkippedHeader).Single());
    }

    [Fact]
    public async Task The_kiro_file_is_served_without_a_token_at_the_organisation_url_with_the_same_bytes_and_an_etag()
    {
        var (authenticated, expected) = await GetAsync("/api/v1/orgs/demo/exports/kiro", fixture.Developer);
        authenticated.Dispose();
        var (response, body) = await GetAsync("/o/demo/kiro/registry.json", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, body);
        var etag = response.Headers.ETag!.ToString();
        response.Dispose();

        using var client = fixture.Server.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/o/demo/kiro/registry.json");
        request.Headers.TryAddWithoutValidation("If-None-Match", etag);
        using var notModified = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        // An account whose profile turns MCP off gets an empty file at its keyed URL; an unknown organisation or account is 404.
        var offlineUrl = await fixture.Server.AccountUrlAsync("demo", "offline", "kiro");
        Assert.Matches("^/o/demo/a/offline~[A-Za-z0-9_-]{22}/kiro/registry.json$", offlineUrl);
        var (offline, offlineBody) = await GetAsync(offlineUrl, null);
        offline.Dispose();
        Assert.Equal("""{"servers":[]}""", offlineBody);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/o/nobody/kiro/registry.json", null)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/o/demo/a/nobody/kiro/registry.json", null)).Response.StatusCode);
    }

    [Fact]
    public async Task The_anonymous_account_urls_do_not_tell_whether_an_account_exists()
    {
        var keyed = await fixture.Server.AccountUrlAsync("demo", "offline", "kiro");
        var key = keyed.Split('~')[1].Split('/')[0];
        var answers = new List<(HttpStatusCode, string)>();
        foreach (var path in new[]
        {
            "/o/demo/a/offline/kiro/registry.json",                       // an account that exists, by its bare slug
            "/o/demo/a/nobody/kiro/registry.json",                        // one that does not
            "/o/demo/a/offline~AAAAAAAAAAAAAAAAAAAAAA/kiro/registry.json", // the right slug with a wrong key
            $"/o/demo/a/nobody~{key}/kiro/registry.json",                 // another account's key
            "/o/demo/a/offline/registry/v0.1/servers",
            "/o/demo/a/nobody/registry/v0.1/servers",
        })
        {
            var (response, body) = await GetAsync(path, null);
            response.Dispose();
            answers.Add((response.StatusCode, body));
        }

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.NotFound, a.Item1));
        Assert.Single(answers.Take(4).Select(a => a.Item2).Distinct());
        Assert.Single(answers.Skip(4).Select(a => a.Item2).Distinct());
        var (registry, _) = await GetAsync(await fixture.Server.AccountUrlAsync("demo", "offline", "registry") + "/v0.1/servers", null);
        Assert.Equal(HttpStatusCode.OK, registry.StatusCode);
        registry.Dispose();
    }

    [Fact]
    public async Task Claude_managed_mcp_has_the_launch_planners_argv_for_packages_and_http_for_remotes()
    {
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/claude-managed-mcp?mode=direct", fixture.Developer);
        using var _ = response;
        var servers = JsonNode.Parse(body)!["mcpServers"]!.AsObject();
        var everything = servers["server-everything"]!;
        Assert.Equal("stdio", (string)everything["type"]!);
        Assert.Equal("npx", (string)everything["command"]!);
        Assert.Equal(["-y", "@modelcontextprotocol/server-everything@2026.8.31"], everything["args"]!.AsArray().Select(a => (string)a!));
        Assert.Equal("uvx", (string)servers["server-fetch"]!["command"]!);
        Assert.Equal("http", (string)servers["notion-mcp"]!["type"]!);
        Assert.Equal("https://mcp.notion.com/mcp", (string)servers["notion-mcp"]!["url"]!);
        Assert.False(servers.ContainsKey("io.github.modelcontextprotocol.server-filesystem"));

        var (off, offBody) = await GetAsync("/api/v1/orgs/demo/exports/claude-managed-mcp?account=offline", GovernanceServer.AdminToken);
        off.Dispose();
        Assert.Equal("""{"mcpServers":{}}""", offBody);
    }

    [Fact]
    public async Task Claude_settings_allow_exact_argv_and_url_patterns_deny_revoked_versions_and_deny_web_tools_when_they_are_off()
    {
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/claude-settings?mode=direct", fixture.Developer);
        using var _ = response;
        var settings = JsonNode.Parse(body)!;
        var allowed = settings["allowedMcpServers"]!.AsArray();
        Assert.Contains(allowed, a => a!["serverCommand"] is JsonArray argv && argv.Select(x => (string)x!).SequenceEqual(["npx", "-y", "@modelcontextprotocol/server-everything@2026.8.31"]));
        Assert.Contains(allowed, a => (string?)a!["serverUrl"] == "https://mcp.notion.com/mcp");
        Assert.Contains(allowed, a => (string?)a!["serverUrl"] == "https://*.example.com/mcp");
        Assert.Contains(allowed, a => a!["serverCommand"] is JsonArray argv && argv.Select(x => (string)x!).SequenceEqual(["npx", "-y", "@example/test@2.0.0"]));
        var denied = settings["deniedMcpServers"]!.AsArray();
        Assert.Contains(denied, a => a!["serverCommand"] is JsonArray argv && argv.Select(x => (string)x!).SequenceEqual(["npx", "-y", "@example/test@1.0.0"]));
        Assert.Null(settings["permissions"]);

        var (off, offBody) = await GetAsync("/api/v1/orgs/demo/exports/claude-settings?account=offline", GovernanceServer.AdminToken);
        off.Dispose();
        var offSettings = JsonNode.Parse(offBody)!;
        Assert.Empty(offSettings["allowedMcpServers"]!.AsArray());
        Assert.Equal(["WebFetch", "WebSearch"], offSettings["permissions"]!["deny"]!.AsArray().Select(x => (string)x!));
    }

    [Fact]
    public async Task Copilot_managed_settings_use_the_same_keys_without_claude_permissions()
    {
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/copilot?account=offline", fixture.Developer);
        using var _ = response;
        var settings = JsonNode.Parse(body)!;
        Assert.Empty(settings["allowedMcpServers"]!.AsArray());
        Assert.NotNull(settings["deniedMcpServers"]);
        Assert.Null(settings["permissions"]);
        var (full, fullBody) = await GetAsync("/api/v1/orgs/demo/exports/copilot?mode=direct", fixture.Developer);
        full.Dispose();
        Assert.Contains(JsonNode.Parse(fullBody)!["allowedMcpServers"]!.AsArray(), a => (string?)a!["serverUrl"] == "https://mcp.notion.com/mcp");
    }

    [Fact]
    public async Task Gateway_mode_is_the_default_and_every_host_file_starts_the_gateway_under_the_stable_command()
    {
        const string everything = "io.github.modelcontextprotocol/server-everything";
        string[] gatewayArgv = ["steward", "gateway", "--server", everything];
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/claude-managed-mcp", fixture.Developer);
        response.Dispose();
        var servers = JsonNode.Parse(body)!["mcpServers"]!.AsObject();
        var entry = servers["server-everything"]!;
        Assert.Equal("stdio", (string)entry["type"]!);
        Assert.Equal("steward", (string)entry["command"]!);
        Assert.Equal(gatewayArgv[1..], entry["args"]!.AsArray().Select(a => (string)a!));
        // Every admitted entry goes through the gateway, remotes and entries needing inputs included; no upstream is started directly.
        Assert.Equal("steward", (string)servers["notion-mcp"]!["command"]!);
        Assert.Equal("steward", (string)servers["server-filesystem"]!["command"]!);
        Assert.All(servers, s => Assert.Equal("steward", (string)s.Value!["command"]!));

        foreach (var format in new[] { "claude-settings", "copilot" })
        {
            var (settingsResponse, settingsBody) = await GetAsync($"/api/v1/orgs/demo/exports/{format}", fixture.Developer);
            settingsResponse.Dispose();
            var settings = JsonNode.Parse(settingsBody)!;
            var allowed = settings["allowedMcpServers"]!.AsArray();
            Assert.Contains(allowed, a => a!["serverCommand"] is JsonArray argv && argv.Select(x => (string)x!).SequenceEqual(gatewayArgv));
            // Exactly the gateway's argv: no upstream argv and no URL, so a host cannot start the upstream without Steward.
            Assert.All(allowed, a => Assert.Equal("steward", (string)a!["serverCommand"]![0]!));
            Assert.Equal(servers.Count, allowed.Count);
            var denied = settings["deniedMcpServers"]!.AsArray();
            Assert.Contains(denied, a => a!["serverCommand"] is JsonArray argv && argv.Select(x => (string)x!).SequenceEqual(["npx", "-y", "@example/test@1.0.0"]));
        }

        var (gemini, geminiBody) = await GetAsync("/api/v1/orgs/demo/exports/gemini", fixture.Developer);
        gemini.Dispose();
        var geminiSettings = JsonNode.Parse(geminiBody)!;
        Assert.Equal("steward", (string)geminiSettings["mcpServers"]!["server-everything"]!["command"]!);
        Assert.Equal(geminiSettings["mcpServers"]!.AsObject().Select(p => p.Key).Order(), geminiSettings["mcp"]!["allowed"]!.AsArray().Select(n => (string)n!).Order());

        var (cursor, cursorBody) = await GetAsync("/api/v1/orgs/demo/exports/cursor", fixture.Developer);
        cursor.Dispose();
        Assert.Contains("*steward gateway --server " + everything, JsonNode.Parse(cursorBody)!["mcpAllowlistCommands"]!.AsArray().Select(c => (string)c!));
        Assert.Empty(JsonNode.Parse(cursorBody)!["mcpAllowlistUrls"]!.AsArray());

        var (report, reportBody) = await GetAsync("/api/v1/orgs/demo/exports/claude-settings/report", fixture.Developer);
        report.Dispose();
        Assert.Equal("gateway", (string)JsonNode.Parse(reportBody)!["mode"]!);
        Assert.Equal("steward", (string)JsonNode.Parse(reportBody)!["command"]!);
    }

    [Fact]
    public async Task An_admin_sets_the_gateway_command_and_a_bad_mode_or_command_is_a_400_naming_it()
    {
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/claude-settings?command=" + Uri.EscapeDataString("/opt/steward/bin/steward"), fixture.Developer);
        response.Dispose();
        Assert.Contains(JsonNode.Parse(body)!["allowedMcpServers"]!.AsArray(), a => a!["serverCommand"] is JsonArray argv &&
            argv.Select(x => (string)x!).SequenceEqual(["/opt/steward/bin/steward", "gateway", "--server", "io.github.modelcontextprotocol/server-everything"]));
        var (windows, windowsBody) = await GetAsync("/api/v1/orgs/demo/exports/claude-managed-mcp?command=" + Uri.EscapeDataString(@"C:\Program Files\Steward\steward.exe"), fixture.Developer);
        windows.Dispose();
        Assert.Equal(@"C:\Program Files\Steward\steward.exe", (string)JsonNode.Parse(windowsBody)!["mcpServers"]!["server-everything"]!["command"]!);

        foreach (var (query, field) in new[]
                 {
                     ("claude-settings?mode=proxy", "is not a mode; give gateway"),
                     ("claude-settings?command=bin/steward", "is a relative path"),
                     ("claude-settings?mode=direct&command=/opt/steward", "is used only with mode=gateway"),
                     ("kiro?mode=gateway", "mode: the kiro file lists packages"),
                 })
        {
            var (bad, badBody) = await GetAsync("/api/v1/orgs/demo/exports/" + query, fixture.Developer);
            using var _ = bad;
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains(field, badBody);
        }

        var (kiro, _) = await GetAsync("/api/v1/orgs/demo/exports/kiro?mode=direct", fixture.Developer);
        using var kiroResponse = kiro;
        Assert.Equal(HttpStatusCode.OK, kiro.StatusCode);
    }

    [Fact]
    public async Task The_gemini_export_in_direct_mode_has_commands_and_http_urls_and_mcp_off_turns_mcp_off()
    {
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/gemini?mode=direct", fixture.Developer);
        response.Dispose();
        var settings = JsonNode.Parse(body)!;
        var everything = settings["mcpServers"]!["server-everything"]!;
        Assert.Equal("npx", (string)everything["command"]!);
        Assert.Equal("https://mcp.notion.com/mcp", (string)settings["mcpServers"]!["notion-mcp"]!["httpUrl"]!);
        Assert.Contains("notion-mcp", settings["mcp"]!["allowed"]!.AsArray().Select(n => (string)n!));
        Assert.Null(settings["admin"]);

        var (off, offBody) = await GetAsync("/api/v1/orgs/demo/exports/gemini?account=offline", GovernanceServer.AdminToken);
        off.Dispose();
        var offSettings = JsonNode.Parse(offBody)!;
        Assert.Empty(offSettings["mcpServers"]!.AsObject());
        Assert.False((bool)offSettings["admin"]!["mcp"]!["enabled"]!);
    }

    [Fact]
    public async Task Cursor_gets_command_strings_with_a_leading_wildcard_and_url_patterns()
    {
        var (response, body) = await GetAsync("/api/v1/orgs/demo/exports/cursor?mode=direct", fixture.Developer);
        using var _ = response;
        var cursor = JsonNode.Parse(body)!;
        var commands = cursor["mcpAllowlistCommands"]!.AsArray().Select(c => (string)c!).ToList();
        Assert.Contains("*npx -y @modelcontextprotocol/server-everything@2026.8.31", commands);
        Assert.Contains("*uvx mcp-server-fetch==2026.10.24", commands);
        Assert.Contains("https://*.example.com/mcp", cursor["mcpAllowlistUrls"]!.AsArray().Select(u => (string)u!));
        Assert.NotNull(response.Headers.ETag);
    }

    [Theory]
    [InlineData("anonymous", HttpStatusCode.Unauthorized)]
    [InlineData("bad-token", HttpStatusCode.Unauthorized)]
    [InlineData("developer", HttpStatusCode.OK)]
    [InlineData("other-admin", HttpStatusCode.NotFound)]
    [InlineData("admin", HttpStatusCode.OK)]
    public async Task Exports_answer_members_of_the_organisation_only(string caller, HttpStatusCode expected)
    {
        var token = caller switch
        {
            "anonymous" => null,
            "bad-token" => "stw_not-a-token-anyone-was-given",
            "developer" => fixture.Developer,
            "other-admin" => fixture.OtherAdmin,
            _ => GovernanceServer.AdminToken,
        };
        foreach (var format in ExportFormats.All)
        {
            var (response, body) = await GetAsync($"/api/v1/orgs/demo/exports/{format}", token);
            using var _ = response;
            Assert.True(expected == response.StatusCode, $"{format} as {caller}: {(int)response.StatusCode} {body}");
        }
    }

    [Fact]
    public async Task An_unknown_format_or_account_is_404_and_an_external_registry_profile_is_409()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/api/v1/orgs/demo/exports/vscode", fixture.Developer)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/api/v1/orgs/demo/exports/kiro?account=nobody", fixture.Developer)).Response.StatusCode);
        await fixture.Server.CreateAccountAsync("external");
        await fixture.Server.PutProfileAsync("/api/v1/orgs/demo/accounts/external/profile", """{"registryMode":"external","registryUrl":"https://registry.example.com"}""");
        Assert.Equal(HttpStatusCode.Conflict, (await GetAsync("/api/v1/orgs/demo/exports/kiro?account=external", fixture.Developer)).Response.StatusCode);
    }

    [Fact]
    public void Flat_names_are_unique_and_do_not_depend_on_the_order_of_the_names()
    {
        string[] names = ["io.github.acme/tool", "io.github.acme.tool/x", "io.github/acme.tool", "com.example/a_b-c"];
        var flat = HostServerNames.Flat(names);
        var reversed = HostServerNames.Flat(names.Reverse());

        Assert.Equal(names.Length, flat.Values.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, n => Assert.Equal(flat[n], reversed[n]));
        Assert.Equal("io.github.acme.tool.x", flat["io.github.acme.tool/x"]);
        Assert.Equal("com.example.a_b-c", flat["com.example/a_b-c"]);
        Assert.StartsWith("io.github.acme.tool-", flat["io.github.acme/tool"], StringComparison.Ordinal);
        Assert.StartsWith("io.github.acme.tool-", flat["io.github/acme.tool"], StringComparison.Ordinal);
        Assert.All(flat.Values, v => Assert.Matches("^[a-zA-Z0-9._-]+$", v));
    }

    [Fact]
    public void Host_names_are_short_unique_and_fall_back_to_flat_names_when_the_short_form_is_taken()
    {
        string[] names = ["io.github.modelcontextprotocol/server-everything", "com.notion/mcp", "io.github.a/tool", "io.github.b/tool", "com.example/x.y"];
        var keys = HostServerNames.Keys(names);
        var reversed = HostServerNames.Keys(names.Reverse());

        Assert.Equal("server-everything", keys["io.github.modelcontextprotocol/server-everything"]);
        Assert.Equal("notion-mcp", keys["com.notion/mcp"]);
        Assert.Equal("io.github.a.tool", keys["io.github.a/tool"]);
        Assert.Equal("io.github.b.tool", keys["io.github.b/tool"]);
        Assert.Equal("x-y", keys["com.example/x.y"]);
        Assert.Equal(names.Length, keys.Values.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(names, n => Assert.Equal(keys[n], reversed[n]));
        // Claude Code's longest server-everything tool name stays within the 64 characters hosts keep.
        Assert.True(("mcp__" + keys[names[0]] + "__trigger-long-running-operation").Length <= 64);
    }

    [Fact]
    public void Registry_mode_none_leaves_the_allowlist_out()
    {
        var settings = ProfileSettings.Default with { RegistryMode = RegistryModes.None };
        var result = Exporters.ManagedSettings([], [], settings, claude: true);
        var document = JsonNode.Parse(result.Document)!;
        Assert.Null(document["allowedMcpServers"]);
        Assert.NotNull(document["deniedMcpServers"]);
    }
}
