using System.Text;
using Steward.Core.Config;

namespace Steward.Core.Tests.Config;

public class McpConfigMergeTests
{
    private static McpConfig Read(string json)
    {
        var result = McpConfigReader.Read(Encoding.UTF8.GetBytes(json));
        Assert.True(result.IsValid, string.Join("\n", result.Problems));
        return result.Config!;
    }

    private static readonly McpConfig User = Read("""
        {"mcpServers":{
          "github":{"command":"npx","args":["-y","@modelcontextprotocol/server-github@1.0.0"],"env":{"GITHUB_TOKEN":"${GITHUB_TOKEN}"},"autoApprove":["search"]},
          "fetch":{"command":"uvx","args":["mcp-server-fetch==1.0.0"]},
          "notes":{"url":"https://notes.example.com/mcp"}}}
        """);

    [Fact]
    public void A_workspace_entry_replaces_the_user_entry_of_the_same_name_completely()
    {
        var workspace = Read("""{"mcpServers":{"github":{"command":"npx","args":["-y","@modelcontextprotocol/server-github@2.0.0"]}}}""");
        var merged = McpConfigMerge.Merge([new(ConfigScope.Workspace, "/w/.kiro/settings/mcp.json", workspace), new(ConfigScope.User, "/home/u/.kiro/settings/mcp.json", User)]);
        var github = merged.Find("github")!;
        Assert.Equal("@modelcontextprotocol/server-github@2.0.0", github.Config.Args!.Value[1]);
        Assert.Null(github.Config.Env);
        Assert.Null(github.Config.AutoApprove);
        Assert.Equal(new ConfigOrigin(ConfigScope.Workspace, "/w/.kiro/settings/mcp.json"), github.Origin);
        Assert.Equal([new ConfigOrigin(ConfigScope.User, "/home/u/.kiro/settings/mcp.json")], github.Replaced.ToArray());
    }

    [Fact]
    public void Different_names_add_up_and_keep_where_they_came_from()
    {
        var workspace = Read("""{"mcpServers":{"db":{"command":"docker","args":["run","-i","--rm","db:1"]}}}""");
        var merged = McpConfigMerge.Merge([new(ConfigScope.User, "u", User), new(ConfigScope.Workspace, "w", workspace)]);
        Assert.Equal(["github", "fetch", "notes", "db"], merged.Servers.Select(s => s.Name));
        Assert.Equal(ConfigScope.User, merged.Find("fetch")!.Origin.Scope);
        Assert.Equal(ConfigScope.Workspace, merged.Find("db")!.Origin.Scope);
    }

    [Fact]
    public void Disabled_at_the_higher_level_disables_the_lower_entry()
    {
        var workspace = Read("""{"mcpServers":{"fetch":{"disabled":true}}}""");
        var merged = McpConfigMerge.Merge([new(ConfigScope.User, "u", User), new(ConfigScope.Workspace, "w", workspace)]);
        var fetch = merged.Find("fetch")!;
        Assert.True(fetch.IsDisabled);
        Assert.Equal("uvx", fetch.Config.Command);
        Assert.Equal("w", fetch.Origin.Path);
    }

    [Fact]
    public void Disabled_at_the_lower_level_is_overridden_by_an_enabled_workspace_entry()
    {
        var user = Read("""{"mcpServers":{"fetch":{"command":"uvx","args":["a"],"disabled":true}}}""");
        var workspace = Read("""{"mcpServers":{"fetch":{"command":"uvx","args":["b"]}}}""");
        var merged = McpConfigMerge.Merge([new(ConfigScope.User, "u", user), new(ConfigScope.Workspace, "w", workspace)]);
        Assert.False(merged.Find("fetch")!.IsDisabled);
    }

    [Fact]
    public void The_agent_scope_wins_over_workspace_and_user()
    {
        var workspace = Read("""{"mcpServers":{"notes":{"url":"https://w.example.com/mcp"}}}""");
        var agent = Read("""{"mcpServers":{"notes":{"url":"https://a.example.com/mcp"}}}""");
        var merged = McpConfigMerge.Merge([new(ConfigScope.Agent, "a", agent), new(ConfigScope.User, "u", User), new(ConfigScope.Workspace, "w", workspace)]);
        var notes = merged.Find("notes")!;
        Assert.Equal("https://a.example.com/mcp", notes.Config.Url);
        Assert.Equal(["u", "w"], notes.Replaced.Select(o => o.Path));
    }
}
