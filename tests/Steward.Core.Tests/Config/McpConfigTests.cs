using System.Text;
using Steward.Core.Config;

namespace Steward.Core.Tests.Config;

public class McpConfigTests
{
    private static McpConfigReadResult Read(string json) => McpConfigReader.Read(Encoding.UTF8.GetBytes(json));

    private static McpConfig ReadValid(string json)
    {
        var result = Read(json);
        Assert.True(result.IsValid, string.Join("\n", result.Problems));
        return result.Config!;
    }

    private const string KiroExample = """
        {
          "mcpServers": {
            "local-server-name": {
              "command": "command-to-run-server",
              "args": [
                "arg1",
                "arg2"
              ],
              "env": {
                "ENV_VAR1": "hard-coded-variable",
                "ENV_VAR2": "${EXPANDED_VARIABLE}"
              },
              "disabled": false,
              "autoApprove": [
                "tool_name1",
                "tool_name2"
              ],
              "disabledTools": [
                "tool_name3"
              ]
            },
            "remote-server-name": {
              "url": "https://endpoint.to.connect.to",
              "headers": {
                "HEADER1": "value1"
              },
              "disabled": false,
              "autoApprove": [
                "tool_name1"
              ],
              "disabledTools": [
                "tool_name3"
              ],
              "oauth": {
                "redirectUri": "http://localhost:7777",
                "oauthScopes": [
                  "read"
                ]
              }
            }
          },
          "x-note": "kept"
        }

        """;

    [Fact]
    public void The_kiro_documentation_example_reads_with_every_field()
    {
        var config = ReadValid(KiroExample);
        Assert.Equal(["local-server-name", "remote-server-name"], config.Servers.Select(s => s.Name));
        var local = config.Find("local-server-name")!;
        Assert.True(local.IsLocal);
        Assert.Equal(["command-to-run-server", "arg1", "arg2"], local.Argv().ToArray());
        Assert.Equal("${EXPANDED_VARIABLE}", local.Env!.Value.Single(e => e.Key == "ENV_VAR2").Value);
        Assert.Equal(["tool_name1", "tool_name2"], local.AutoApprove!.Value.ToArray());
        var remote = config.Find("remote-server-name")!;
        Assert.True(remote.IsRemote);
        Assert.Equal("oauth", Assert.Single(remote.Unknown).Key);
    }

    [Fact]
    public void Writing_what_was_read_gives_back_the_same_bytes()
    {
        var config = ReadValid(KiroExample);
        var written = Encoding.UTF8.GetString(McpConfigWriter.Write(config));
        Assert.Equal(KiroExample.ReplaceLineEndings("\n"), written.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Environment_references_and_special_characters_are_written_exactly()
    {
        var config = McpConfig.Empty.With("github", new McpServerConfig
        {
            Command = "npx",
            Args = ["-y", "@modelcontextprotocol/server-github@1.0.0"],
            Env = [new("GITHUB_TOKEN", "${GITHUB_TOKEN}"), new("PLAIN", "$GITHUB_TOKEN"), new("MIX", "a+b<c>&'d' é")],
        });
        var bytes = McpConfigWriter.Write(config);
        var text = Encoding.UTF8.GetString(bytes);
        Assert.Contains("\"GITHUB_TOKEN\": \"${GITHUB_TOKEN}\"", text, StringComparison.Ordinal);
        Assert.Contains("\"MIX\": \"a+b<c>&'d' é\"", text, StringComparison.Ordinal);
        var again = ReadValid(text).Find("github")!;
        Assert.Equal(config.Find("github")!.Env!.Value.ToArray(), again.Env!.Value.ToArray());
        Assert.Equal(bytes, McpConfigWriter.Write(ReadValid(text)));
    }

    [Fact]
    public void A_registry_entry_carries_env_headers_and_timeout()
    {
        var config = ReadValid("""{"mcpServers":{"github":{"type":"registry","env":{"GITHUB_TOKEN":"$GITHUB_TOKEN","GITHUB_ORG":"my-org"},"timeout":60000}}}""");
        var github = config.Find("github")!;
        Assert.True(github.IsRegistry);
        Assert.False(github.IsLocal);
        Assert.Equal(60000, github.Timeout);
    }

    [Fact]
    public void A_registry_entry_that_sets_command_args_or_url_is_an_error_at_each_field()
    {
        var result = Read("""{"mcpServers":{"github":{"type":"registry","command":"npx","args":["x"],"url":"https://x"}}}""");
        Assert.False(result.IsValid);
        Assert.Equal(
            ["mcpServers.github.command", "mcpServers.github.args", "mcpServers.github.url"],
            result.Problems.Where(p => p.Rule == McpConfigReader.RegistryFixedField).Select(p => p.Path));
    }

    [Fact]
    public void Wrong_types_are_reported_with_their_paths_all_at_once()
    {
        var result = Read("""{"mcpServers":{"github":{"command":"npx","args":["-y","a",3],"env":{"A":1},"timeout":"60s","disabled":"no"},"my-server":{"url":"not a url"}}}""");
        Assert.NotNull(result.Config);
        Assert.Equal(
            ["mcpServers.github.args[2]", "mcpServers.github.env.A", "mcpServers.github.disabled", "mcpServers.github.timeout", "mcpServers[\"my-server\"].url"],
            result.Problems.Select(p => p.Path));
    }

    [Fact]
    public void A_server_with_neither_command_nor_url_is_an_error_but_a_disable_stub_is_not()
    {
        var result = Read("""{"mcpServers":{"a":{"env":{}},"b":{"disabled":true}}}""");
        var problem = Assert.Single(result.Problems);
        Assert.Equal(("mcpServers.a", McpConfigReader.MissingCommandOrUrl), (problem.Path, problem.Rule));
    }

    [Fact]
    public void A_duplicate_server_name_is_an_error_with_its_path()
    {
        var result = Read("""{"mcpServers":{"a":{"command":"x"},"a":{"command":"y"}}}""");
        Assert.Equal("mcpServers.a", Assert.Single(result.Problems).Path);
        Assert.Equal("x", result.Config!.Find("a")!.Command);
    }

    [Fact]
    public void A_file_that_is_not_json_cannot_be_read()
    {
        var result = Read("{\"mcpServers\": {");
        Assert.False(result.IsReadable);
        Assert.NotNull(result.Failure);
    }

    [Fact]
    public void Headers_on_a_local_server_are_a_warning_not_an_error()
    {
        var result = Read("""{"mcpServers":{"a":{"command":"x","headers":{"H":"v"}}}}""");
        Assert.True(result.IsValid);
        Assert.Equal(McpConfigReader.IgnoredField, Assert.Single(result.Problems).Rule);
    }
}
