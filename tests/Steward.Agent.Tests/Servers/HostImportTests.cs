using Steward.Agent.Servers;
using Steward.Agent.Tests.Support;
using Steward.Core.Config;

namespace Steward.Agent.Tests.Servers;

public class HostImportTests
{
    private static ImportReport Import(PolicyFixture fixture, string host, string? file = null)
    {
        var read = HostImport.Read(host, file, fixture.Config.Home, fixture.Config.Workspace);
        Assert.Null(read.Error);
        return fixture.Manager().Import(host, read.FilesRead, read.Servers, read.Warnings, ConfigScope.User);
    }

    [Fact]
    public async Task Kiro_servers_are_imported_enabled_when_admitted_and_disabled_with_the_reason_when_not()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("home/.kiro/settings/mcp.json", """
            {"mcpServers": {
              "old": {"command": "npx", "args": ["-y", "@acme/old@1.1.0"], "env": {"LOG": "debug"}},
              "miner": {"command": "npx", "args": ["-y", "@evil/miner"]}
            }}
            """);

        var report = Import(fixture, "kiro");

        var byName = report.Servers.ToDictionary(s => s.Name);
        Assert.Equal(("imported", "allowed"), (byName["old"].Outcome, byName["old"].Decision));
        Assert.Equal(("imported-disabled", "not_in_registry"), (byName["miner"].Outcome, byName["miner"].Reason));
        Assert.StartsWith("imported disabled: ", byName["miner"].Message);
        var config = McpConfigReader.Read(File.ReadAllBytes(fixture.Config.Paths.UserMcpConfig)).Config!;
        Assert.True(config.Find("miner")!.IsDisabled);
        Assert.False(config.Find("old")!.IsDisabled);
        Assert.Equal("${STEWARD_OLD_LOG}", config.Find("old")!.Env!.Value.Single().Value);
        Assert.Equal("debug", SecretStore.Load(fixture.Config.Paths).Get("STEWARD_OLD_LOG"));
    }

    [Fact]
    public async Task Claude_Code_servers_come_from_the_user_file_its_current_project_and_the_project_mcp_json()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        var project = fixture.Config.Workspace.Replace("\\", "\\\\", StringComparison.Ordinal);
        fixture.Config.Write("home/.claude.json", """
            {"numStartups": 3,
             "mcpServers": {"top": {"type": "stdio", "command": "npx", "args": ["-y", "@acme/old@1.1.0"]}},
             "projects": {
               "PROJECT": {"mcpServers": {"proj": {"type": "http", "url": "https://mcp.acme.com/mcp", "headers": {"Authorization": "${TOKEN}"}}}},
               "/elsewhere": {"mcpServers": {"other": {"command": "npx", "args": ["x"]}}}
             }}
            """.Replace("PROJECT", project, StringComparison.Ordinal));
        fixture.Config.Write("work/.mcp.json", """{"mcpServers": {"shared": {"command": "uvx", "args": ["some-tool"]}}}""");

        var report = Import(fixture, "claude");

        Assert.Equal(["top", "proj", "shared"], report.Servers.Select(s => s.Name));
        Assert.Equal(2, report.FilesRead.Count);
        var byName = report.Servers.ToDictionary(s => s.Name);
        Assert.Equal("allowed", byName["proj"].Decision);
        Assert.Empty(byName["proj"].SecretsStored);
        Assert.Equal("imported-disabled", byName["shared"].Outcome);
    }

    [Fact]
    public async Task VS_Code_servers_are_read_from_the_servers_key_with_its_own_references_translated()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("work/.vscode/mcp.json", """
            {"inputs": [{"id": "api-key", "type": "promptString", "password": true}],
             "servers": {
               "old": {"type": "stdio", "command": "npx", "args": ["-y", "@acme/old@1.0.0"], "env": {"KEY": "${input:api-key}", "HOME_DIR": "${env:HOME}"}},
               "remote": {"type": "http", "url": "https://mcp.acme.com/mcp"}
             }}
            """);

        var report = Import(fixture, "vscode");

        var byName = report.Servers.ToDictionary(s => s.Name);
        Assert.Equal(("imported", "relaunch"), (byName["old"].Outcome, byName["old"].Decision));
        Assert.Equal("allowed", byName["remote"].Decision);
        Assert.Contains(report.Warnings, w => w.Contains("API_KEY", StringComparison.Ordinal));
        var env = McpConfigReader.Read(File.ReadAllBytes(fixture.Config.Paths.UserMcpConfig)).Config!.Find("old")!.Env!.Value;
        Assert.Equal(["${API_KEY}", "${HOME}"], env.Select(e => e.Value));
    }

    [Fact]
    public async Task Cursor_servers_are_imported_and_a_name_already_configured_is_skipped()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """{"mcpServers": {"old": {"type": "registry"}}}""");
        fixture.Config.Write("work/.cursor/mcp.json", """
            {"mcpServers": {"old": {"command": "npx", "args": ["-y", "@acme/old@1.1.0"]}, "web": {"url": "http://example.com/mcp"}}}
            """);

        var report = Import(fixture, "cursor");

        var byName = report.Servers.ToDictionary(s => s.Name);
        Assert.Equal("skipped", byName["old"].Outcome);
        Assert.Equal(("imported-disabled", "remote_not_https"), (byName["web"].Outcome, byName["web"].Reason));
    }

    [Fact]
    public async Task An_explicit_file_that_does_not_exist_is_named()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var read = HostImport.Read("claude", "nowhere.json", fixture.Config.Home, fixture.Config.Workspace);

        Assert.Equal($"--file nowhere.json: {Path.Combine(fixture.Config.Workspace, "nowhere.json")} does not exist", read.Error);
    }
}
