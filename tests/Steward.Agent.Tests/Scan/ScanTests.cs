using System.Text;
using System.Text.Json;
using Steward.Agent.Policy;
using Steward.Agent.Scan;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;

namespace Steward.Agent.Tests.Scan;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ScanTests
{
    // Token-shaped test values, assembled so that no file holds one literally.
    internal static readonly string GitHubClassic = "ghp" + "_" + "Xk9Qm2Lp7Rt4Vw8Yz1Bn5Cd3Fg6Hj0Ks2Mq";
    internal static readonly string GitHubFineGrained = "github" + "_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab";
    internal static readonly string AwsKeyId = "AKIA" + "QZ7XK2M4N6P8R3T5";
    internal static readonly string AwsSecret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzQ8Lk3Nm9T";
    internal static readonly string Slack = "xoxb" + "-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx";
    internal static readonly string OpenAi = "sk-proj" + "-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm";
    internal static readonly string Anthropic = "sk-ant" + "-api03-Zx9Cv8Bn7Mq6Wl5Ek4Rj3Th2Yg1Uf0Id";
    internal static readonly string Random = "q8Zr2Lx" + "9VtW4mKp7Ns3Yb6Hc1Jd5Fg0";

    private static ScanReport Scan(PolicyFixture? fixture, TempConfig config, Func<string, string?>? variables = null)
    {
        PolicySnapshot? snapshot = null;
        if (fixture is not null)
        {
            using var sync = new PolicySync(config.Paths, fixture.Time);
            snapshot = sync.Snapshot;
        }

        return Scanner.Scan(new ScanOptions(config.Home, config.Workspace, config.Paths, snapshot, null, variables ?? (_ => null)));
    }

    private static string Fill(string template, params (string Name, string Value)[] values) =>
        values.Aggregate(template, (text, v) => text.Replace("<" + v.Name + ">", v.Value, StringComparison.Ordinal));

    private static string Private(TempConfig config, string relative, string content)
    {
        var path = config.Write(relative, content);
        File.SetUnixFileMode(path, Modes.File0600);
        return path;
    }

    [Fact]
    public async Task Every_host_format_is_found_and_each_server_gets_its_admission()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        var c = fixture.Config;
        const string admitted = """{"command": "npx", "args": ["-y", "@acme/old@1.1.0"]}""";
        const string shadow = """{"command": "npx", "args": ["-y", "@evil/miner"]}""";
        Private(c, "home/.kiro/settings/mcp.json", Fill("""{"mcpServers": {"kiro-user": <admitted>}}""", ("admitted", admitted)));
        Private(c, "work/.kiro/settings/mcp.json", Fill("""{"mcpServers": {"kiro-ws": <shadow>}}""", ("shadow", shadow)));
        Private(c, "home/.claude.json", Fill("""{"numStartups": 1, "mcpServers": {"claude-top": <admitted>}, "projects": {"/some/project": {"mcpServers": {"claude-project": <shadow>}}}}""", ("admitted", admitted), ("shadow", shadow)));
        Private(c, "work/.mcp.json", Fill("""{"mcpServers": {"claude-mcp-json": {"type": "http", "url": "https://mcp.acme.com/mcp"}}}"""));
        Private(c, "home/.config/Claude/claude_desktop_config.json", Fill("""{"mcpServers": {"desktop": <shadow>}}""", ("shadow", shadow)));
        Private(c, "home/.config/Code/User/mcp.json", Fill("""
            // VS Code writes comments and trailing commas
            {"servers": {"vscode-user": {"type": "stdio", "command": "npx", "args": ["-y", "@acme/old@1.1.0"],},}, "inputs": []}
            """));
        Private(c, "work/.vscode/mcp.json", Fill("""{"servers": {"vscode-ws": <shadow>}}""", ("shadow", shadow)));
        Private(c, "home/.cursor/mcp.json", Fill("""{"mcpServers": {"cursor-user": <admitted>}}""", ("admitted", admitted)));
        Private(c, "work/.cursor/mcp.json", Fill("""{"mcpServers": {"cursor-ws": <shadow>}}""", ("shadow", shadow)));
        Private(c, "home/.codeium/windsurf/mcp_config.json", """{"mcpServers": {"windsurf": {"serverUrl": "https://evil.example.com/mcp"}}}""");
        Private(c, "config/mcp.json", """{"mcpServers": {"io.acme/old": {"type": "registry"}}}""");

        var report = Scan(fixture, c);

        var byName = report.Servers.ToDictionary(s => s.Name);
        Assert.Equal(12, report.Servers.Count);
        Assert.Equal(("kiro", "admitted"), (byName["kiro-user"].Host, byName["kiro-user"].Admission));
        Assert.Equal(("kiro", "not-admitted"), (byName["kiro-ws"].Host, byName["kiro-ws"].Admission));
        Assert.Equal(("claude-code", "admitted"), (byName["claude-top"].Host, byName["claude-top"].Admission));
        Assert.Equal(("claude-code", "not-admitted", "projects[\"/some/project\"].mcpServers[\"claude-project\"]"),
            (byName["claude-project"].Host, byName["claude-project"].Admission, byName["claude-project"].JsonPath));
        Assert.Equal("admitted", byName["claude-mcp-json"].Admission);
        Assert.Equal(("claude-desktop", "not-admitted"), (byName["desktop"].Host, byName["desktop"].Admission));
        Assert.Equal(("vscode", "admitted"), (byName["vscode-user"].Host, byName["vscode-user"].Admission));
        Assert.Equal(("vscode", "not-admitted"), (byName["vscode-ws"].Host, byName["vscode-ws"].Admission));
        Assert.Equal(("cursor", "admitted"), (byName["cursor-user"].Host, byName["cursor-user"].Admission));
        Assert.Equal(("cursor", "not-admitted"), (byName["cursor-ws"].Host, byName["cursor-ws"].Admission));
        Assert.Equal(("windsurf", "not-admitted", "not_in_registry"), (byName["windsurf"].Host, byName["windsurf"].Admission, byName["windsurf"].Reason));
        Assert.Equal(("steward", "admitted"), (byName["io.acme/old"].Host, byName["io.acme/old"].Admission));
        Assert.Equal(6, report.Findings.Count(f => f.Rule == ScanRules.ShadowServer));
        Assert.True(report.HasFindings);
        Assert.Null(report.PolicyNote);
        var shadowFinding = report.Findings.First(f => f.Server == "kiro-ws");
        Assert.Equal(("mcpServers[\"kiro-ws\"]", 1L), (shadowFinding.JsonPathText, shadowFinding.Line));
    }

    [Fact]
    public async Task An_entry_that_runs_this_stewards_gateway_is_governed_and_one_named_steward_elsewhere_is_not_trusted()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        var c = fixture.Config;
        var steward = c.Write("bin/steward", "#!/bin/sh\n");
        var impostor = c.Write("elsewhere/steward", "#!/bin/sh\n");
        Private(c, "work/.mcp.json", Fill("""
            {"mcpServers": {
              "governed": {"command": "<steward>", "args": ["gateway", "--server", "io.acme/old"]},
              "impostor": {"command": "<impostor>", "args": ["gateway", "--server", "io.acme/old"]}
            }}
            """, ("steward", steward), ("impostor", impostor)));

        using var sync = new PolicySync(c.Paths, fixture.Time);
        var report = Scanner.Scan(new ScanOptions(c.Home, c.Workspace, c.Paths, sync.Snapshot, null, _ => null) { StewardExecutable = steward });

        var byName = report.Servers.ToDictionary(s => s.Name);
        Assert.Equal("admitted", byName["governed"].Admission);
        Assert.Equal(("not-identifiable", "other_gateway"), (byName["impostor"].Admission, byName["impostor"].Reason));
        Assert.DoesNotContain(report.Findings, f => f.Server == "governed");
    }

    [Fact]
    public void Without_a_policy_every_server_is_not_identifiable_and_that_alone_is_not_a_finding()
    {
        using var config = new TempConfig();
        Private(config, "home/.cursor/mcp.json", """{"mcpServers": {"a": {"command": "npx", "args": ["x"]}}}""");

        var report = Scan(null, config);

        var server = Assert.Single(report.Servers);
        Assert.Equal(("not-identifiable", "no_policy"), (server.Admission, server.Reason));
        Assert.StartsWith("no policy: ", report.PolicyNote);
        Assert.Equal("note", Assert.Single(report.Findings).Level);
        Assert.False(report.HasFindings);
    }

    [Fact]
    public async Task A_server_with_an_unset_reference_in_its_command_is_not_identifiable_and_the_variable_is_reported()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        Private(fixture.Config, "home/.kiro/settings/mcp.json", """{"mcpServers": {"a": {"command": "${TOOL}", "args": []}}}""");

        var report = Scan(fixture, fixture.Config);

        Assert.Equal("not-identifiable", Assert.Single(report.Servers).Admission);
        Assert.Contains(report.Findings, f => f.Rule == ScanRules.UnidentifiableServer);
        Assert.Contains(report.Findings, f => f.Rule == ScanRules.UnsetVariable && f.Message.Contains("${TOOL}", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("GITHUB_TOKEN", "github-token")]
    [InlineData("GITHUB_PAT", "github-token")]
    [InlineData("AWS_ACCESS_KEY_ID", "aws-access-key-id")]
    [InlineData("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key")]
    [InlineData("SLACK_BOT_TOKEN", "slack-token")]
    [InlineData("OPENAI_API_KEY", "openai-api-key")]
    [InlineData("ANTHROPIC_API_KEY", "anthropic-api-key")]
    [InlineData("SOME_SETTING", "high-entropy")]
    public void Each_kind_of_clear_text_secret_in_env_is_found_and_never_shown(string name, string kind)
    {
        var value = Value(name);
        using var config = new TempConfig();
        Private(config, "home/.kiro/settings/mcp.json", Fill("""{"mcpServers": {"a": {"command": "npx", "args": ["x"], "env": {"<name>": "<value>", "LOG": "debug", "REF": "$SOME_VAR"}}}}""", ("name", name), ("value", value)));

        var report = Scan(null, config);

        var finding = Assert.Single(report.Findings, f => f.Rule == ScanRules.HardcodedSecret);
        Assert.Equal((kind, $"mcpServers.a.env.{name}"), (finding.SecretKind, finding.JsonPathText));
        Assert.EndsWith("…", finding.Redacted);
        Assert.True(finding.Redacted!.Length <= 5);
        Assert.DoesNotContain(value, finding.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(value, finding.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(value, Encoding.UTF8.GetString(ScanReportWriter.Json(report)), StringComparison.Ordinal);
        Assert.DoesNotContain(value, Encoding.UTF8.GetString(ScanReportWriter.Sarif(report, "0.1.0")), StringComparison.Ordinal);
    }

    private static string Value(string name) => name switch
    {
        "GITHUB_TOKEN" => GitHubClassic,
        "GITHUB_PAT" => GitHubFineGrained,
        "AWS_ACCESS_KEY_ID" => AwsKeyId,
        "AWS_SECRET_ACCESS_KEY" => AwsSecret,
        "SLACK_BOT_TOKEN" => Slack,
        "OPENAI_API_KEY" => OpenAi,
        "ANTHROPIC_API_KEY" => Anthropic,
        _ => Random,
    };

    [Theory]
    [InlineData("debug")]
    [InlineData("${GITHUB_TOKEN}")]
    [InlineData("/home/someone/projects/a-long-directory-name")]
    [InlineData("https://api.example.com/v1/some/long/path")]
    [InlineData("my-project-name-with-words")]
    [InlineData("0123456789abcdef")]
    public void Ordinary_values_are_not_secrets(string value)
    {
        Assert.Null(SecretDetector.Find("SETTING", value));
    }

    [Fact]
    public void A_bearer_token_in_a_header_is_found_with_the_scheme_kept_apart()
    {
        var match = SecretDetector.Find("Authorization", "Bearer " + GitHubClassic);

        Assert.Equal("github-token", match!.Kind);
        Assert.Equal(GitHubClassic, SecretDetector.CredentialPart("Bearer " + GitHubClassic));
        Assert.True(SecretDetector.Entropy(Random) >= SecretDetector.EntropyThreshold);
    }

    [Fact]
    public void A_token_in_args_is_found_by_its_shape()
    {
        using var config = new TempConfig();
        Private(config, "work/.cursor/mcp.json", Fill("""{"mcpServers": {"a": {"command": "tool", "args": ["--token=<GitHubClassic>", "/a/path"]}}}""", ("GitHubClassic", GitHubClassic)));

        var finding = Assert.Single(Scan(null, config).Findings, f => f.Rule == ScanRules.HardcodedSecret);

        Assert.Equal("github-token", finding.SecretKind);
        Assert.Null(finding.Fix);
    }

    [Fact]
    public void A_file_readable_by_others_is_reported_and_a_0600_file_is_not()
    {
        using var config = new TempConfig();
        var loose = config.Write("home/.cursor/mcp.json", """{"mcpServers": {}}""");
        File.SetUnixFileMode(loose, Modes.File0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Private(config, "work/.cursor/mcp.json", """{"mcpServers": {}}""");

        var report = Scan(null, config);

        var finding = Assert.Single(report.Findings);
        Assert.Equal((ScanRules.FilePermissions, loose), (finding.Rule, finding.File));
        Assert.Contains("0644", finding.Message, StringComparison.Ordinal);
        Assert.Equal(["0644", "0600"], report.Files.Select(f => f.Mode));
    }

    [Fact]
    public void Unset_references_are_reported_in_each_hosts_syntax_and_set_ones_are_not()
    {
        using var config = new TempConfig();
        Private(config, "home/.kiro/settings/mcp.json", """{"mcpServers": {"a": {"command": "npx", "args": ["x"], "env": {"A": "${SET_ONE}", "B": "${MISSING_ONE}"}}}}""");
        Private(config, "work/.vscode/mcp.json", """{"servers": {"b": {"type": "http", "url": "https://x.example.com/mcp", "headers": {"Authorization": "Bearer ${env:MISSING_TWO}", "X": "${input:token}"}}}}""");

        var report = Scan(null, config, name => name == "SET_ONE" ? "value" : null);

        var unset = report.Findings.Where(f => f.Rule == ScanRules.UnsetVariable).ToList();
        Assert.Equal(["mcpServers.a.env.B", "servers.b.headers.Authorization"], unset.Select(f => f.JsonPathText));
        Assert.Contains("${MISSING_ONE}", unset[0].Message, StringComparison.Ordinal);
        Assert.Contains("${MISSING_TWO}", unset[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unreadable_file_is_a_finding_and_the_scan_goes_on()
    {
        using var config = new TempConfig();
        Private(config, "home/.cursor/mcp.json", """{"mcpServers": """);
        Private(config, "work/.cursor/mcp.json", """{"mcpServers": {"a": {"command": "x"}}}""");

        var report = Scan(null, config);

        Assert.Contains(report.Findings, f => f.Rule == ScanRules.UnreadableConfig);
        Assert.Single(report.Servers);
    }

    [Fact]
    public async Task Fix_backs_up_then_disables_shadow_servers_each_hosts_way_moves_secrets_to_references_and_tightens_the_mode()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        var c = fixture.Config;
        var kiroText = Fill("""
            {
              "mcpServers": {
                "good": {"command": "npx", "args": ["-y", "@acme/old@1.1.0"], "env": {"GITHUB_TOKEN": "<GitHubClassic>"}},
                "miner": {"command": "npx", "args": ["-y", "@evil/miner"]}
              },
              "other": [1, 2,   3]
            }
            """, ("GitHubClassic", GitHubClassic));
        var kiro = c.Write("home/.kiro/settings/mcp.json", kiroText);
        File.SetUnixFileMode(kiro, Modes.File0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var claude = Private(c, "home/.claude.json", Fill("""
            {"numStartups": 7,
              "mcpServers": {
                "miner": {"command": "npx", "args": ["-y", "@evil/miner"]},
                "remote": {"type": "http", "url": "https://mcp.acme.com/mcp", "headers": {"Authorization": "Bearer <OpenAi>"}}
              },
              "tipsHistory": {"x": 1}
            }
            """, ("OpenAi", OpenAi)));
        var vscode = Private(c, "work/.vscode/mcp.json", Fill("""
            {
              // keep this comment
              "servers": {
                "good": {"type": "stdio", "command": "npx", "args": ["-y", "@acme/old@1.1.0"], "env": {"SLACK_TOKEN": "<Slack>"}}
              }
            }
            """, ("Slack", Slack)));
        var report = Scan(fixture, c);

        var result = ScanFixer.Fix(report, new ManualTime(new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.Zero)));

        Assert.Empty(result.Errors);
        Assert.Equal(3, result.Backups.Count);
        var kiroBackup = kiro + ".steward-backup-20250304T050607Z";
        Assert.Contains(kiroBackup, result.Backups);
        Assert.Equal(kiroText, File.ReadAllText(kiroBackup));
        Assert.Equal(Modes.File0600, Modes.Of(kiroBackup));
        Assert.Equal(Modes.File0600, Modes.Of(kiro));

        Assert.Equal("""
            {
              "mcpServers": {
                "good": {"command": "npx", "args": ["-y", "@acme/old@1.1.0"], "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}},
                "miner": {"disabled": true, "command": "npx", "args": ["-y", "@evil/miner"]}
              },
              "other": [1, 2,   3]
            }
            """, File.ReadAllText(kiro));
        Assert.Equal("""
            {"_steward_disabled": {"miner": {"command": "npx", "args": ["-y", "@evil/miner"]}}, "numStartups": 7,
              "mcpServers": {
                "remote": {"type": "http", "url": "https://mcp.acme.com/mcp", "headers": {"Authorization": "Bearer ${REMOTE_AUTHORIZATION}"}}
              },
              "tipsHistory": {"x": 1}
            }
            """, File.ReadAllText(claude));
        Assert.Contains("// keep this comment", File.ReadAllText(vscode), StringComparison.Ordinal);
        Assert.Contains("\"SLACK_TOKEN\": \"${env:SLACK_TOKEN}\"", File.ReadAllText(vscode), StringComparison.Ordinal);
        Assert.Equal(["GITHUB_TOKEN", "REMOTE_AUTHORIZATION", "SLACK_TOKEN"], result.Exports.Select(e => e.Variable).Order());
        Assert.Equal("export GITHUB_TOKEN='" + GitHubClassic + "'", ScanFixer.ExportLine(result.Exports.First(e => e.Variable == "GITHUB_TOKEN")));
        Assert.DoesNotContain(GitHubClassic, result.ToString(), StringComparison.Ordinal);

        var again = Scan(fixture, c, name => name is "GITHUB_TOKEN" or "REMOTE_AUTHORIZATION" or "SLACK_TOKEN" ? "set" : null);
        Assert.False(again.HasFindings, string.Join("\n", again.Findings.Select(f => f.Message)));
        Assert.Equal("disabled", again.Servers.Single(s => s.Name == "miner").Admission);
    }

    [Fact]
    public void Sarif_has_the_rules_levels_and_each_result_at_its_file_line_and_json_path()
    {
        using var config = new TempConfig();
        var file = Private(config, "work/.mcp.json", Fill("""
            {"mcpServers": {
              "a": {"command": "npx", "args": ["x"], "env": {"OPENAI_API_KEY": "<OpenAi>"}}
            }}
            """, ("OpenAi", OpenAi)));

        var sarif = JsonDocument.Parse(ScanReportWriter.Sarif(Scan(null, config), "0.1.0")).RootElement;

        Assert.Equal("2.1.0", sarif.GetProperty("version").GetString());
        Assert.Equal(ScanReportWriter.SarifSchema, sarif.GetProperty("$schema").GetString());
        var run = Assert.Single(sarif.GetProperty("runs").EnumerateArray());
        var rules = run.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("id").GetString()).ToList();
        Assert.Equal(ScanRules.All.Select(r => r.Id), rules);
        var result = run.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("ruleId").GetString() == ScanRules.HardcodedSecret);
        Assert.Equal("error", result.GetProperty("level").GetString());
        Assert.Equal(rules.IndexOf(ScanRules.HardcodedSecret), result.GetProperty("ruleIndex").GetInt32());
        var location = Assert.Single(result.GetProperty("locations").EnumerateArray());
        var physical = location.GetProperty("physicalLocation");
        Assert.Equal(new Uri(file).AbsoluteUri, physical.GetProperty("artifactLocation").GetProperty("uri").GetString());
        Assert.Equal(2, physical.GetProperty("region").GetProperty("startLine").GetInt32());
        Assert.Equal("mcpServers.a.env.OPENAI_API_KEY", location.GetProperty("logicalLocations")[0].GetProperty("fullyQualifiedName").GetString());
        Assert.Equal("openai-api-key", result.GetProperty("properties").GetProperty("secretKind").GetString());
        Assert.Equal("note", run.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("ruleId").GetString() == ScanRules.NoPolicy).GetProperty("level").GetString());
    }

    [Fact]
    public void Text_edits_change_only_the_bytes_they_must()
    {
        var json = Encoding.UTF8.GetBytes("{ \"a\" : 1 ,\n  \"b\": {\"c\": \"x\"} /* note */, \"d\": []\n}");

        var replaced = JsonTextEdit.ReplaceValue(json, ["b", "c"], "\"y\"");
        var (removed, raw) = JsonTextEdit.RemoveMember(json, [], "b");
        var (last, _) = JsonTextEdit.RemoveMember(json, [], "d");
        var inserted = JsonTextEdit.InsertMember(json, ["b"], "z", "true");

        Assert.Equal("{ \"a\" : 1 ,\n  \"b\": {\"c\": \"y\"} /* note */, \"d\": []\n}", Encoding.UTF8.GetString(replaced));
        Assert.Equal("{ \"a\" : 1 ,\n  \"d\": []\n}", Encoding.UTF8.GetString(removed));
        Assert.Equal("{\"c\": \"x\"}", raw);
        Assert.Equal("{ \"a\" : 1 ,\n  \"b\": {\"c\": \"x\"}\n}", Encoding.UTF8.GetString(last));
        Assert.Equal("{ \"a\" : 1 ,\n  \"b\": {\"z\": true, \"c\": \"x\"} /* note */, \"d\": []\n}", Encoding.UTF8.GetString(inserted));
    }
}
