using System.Text.Json;
using Steward.Agent.Tests.Support;
using Steward.Cli.Gateway;
using Steward.Cli.Tests.AgentCommands;

namespace Steward.Cli.Tests.Gateway;

/// <summary><c>steward mcp export-host</c> for each host format, and <c>steward logs</c>.</summary>
public sealed class ExportHostAndLogsTests
{
    private static Task<CliRunner.Outcome> Run(PolicyFixture fixture, params string[] args) =>
        AgentCliRunner.RunAsync(fixture.Config.Paths, fixture.Config.Workspace, fixture.Config.Home, fixture.Time, args);

    [Theory]
    [InlineData("claude", ".mcp.json", "mcpServers", false)]
    [InlineData("vscode", ".vscode/mcp.json", "servers", true)]
    [InlineData("cursor", ".cursor/mcp.json", "mcpServers", false)]
    [InlineData("kiro", ".kiro/settings/mcp.json", "mcpServers", false)]
    [InlineData("gemini", ".gemini/settings.json", "mcpServers", false)]
    public async Task Export_host_writes_one_gateway_entry_per_approved_enabled_server_keeping_the_other_entries(string host, string file, string key, bool typed)
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """
            {"mcpServers": {
              "io.acme/old": {"type": "registry"},
              "io.acme/files": {"command": "npx", "args": ["-y", "@acme/files@2.0.0", "/tmp"], "disabled": true},
              "rogue": {"command": "npx", "args": ["-y", "@evil/miner"]}
            }}
            """);
        var target = Path.Combine(fixture.Config.Workspace, file);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        // The host's own entries (and its other settings) stay; an old entry of the same name is replaced.
        File.WriteAllText(target, $$"""
            {
              // the developer's own server
              "{{key}}": { "mine": { "command": "my-server" }, "io.acme/old": { "command": "stale" } },
              "inputs": [ { "id": "keep" } ],
            }
            """);

        var export = await Run(fixture, "mcp", "export-host", "--host", host);

        Assert.True(export.ExitCode == 0, export.Stdout);
        Assert.Contains($"wrote 1 gateway entry for", export.Stdout);
        Assert.Contains("not exported: rogue (not_in_registry)", export.Stdout);
        Assert.Contains("not exported: io.acme/files (disabled)", export.Stdout);
        using var json = JsonDocument.Parse(File.ReadAllText(target));
        var servers = json.RootElement.GetProperty(key);
        Assert.Equal("my-server", servers.GetProperty("mine").GetProperty("command").GetString());
        Assert.Equal("keep", json.RootElement.GetProperty("inputs")[0].GetProperty("id").GetString());
        Assert.False(servers.TryGetProperty("rogue", out _));
        Assert.False(servers.TryGetProperty("io.acme/files", out _));
        // Under the short key the administrator's exports give io.acme/old (hosts build tool names from it); the entry
        // under the registry name is replaced, not left beside it.
        Assert.False(servers.TryGetProperty("io.acme/old", out _));
        var entry = servers.GetProperty("old");
        // The stable command every machine's allowlist can name, not this machine's path to steward.
        Assert.Equal("steward", entry.GetProperty("command").GetString());
        Assert.Equal(["gateway", "--server", "io.acme/old"], entry.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToArray());
        Assert.Equal(typed, entry.TryGetProperty("type", out var type));
        if (typed)
        {
            Assert.Equal("stdio", type.GetString());
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(Modes.File0600, Modes.Of(target));
        }
    }

    [Fact]
    public async Task Export_host_writes_to_output_and_creates_the_file()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """{"mcpServers": {"io.acme/old": {"type": "registry"}}}""");
        var output = Path.Combine(fixture.Config.Root, "out", "claude.json");

        var export = await Run(fixture, "mcp", "export-host", "--host", "claude", "--output", output);

        Assert.Equal(0, export.ExitCode);
        using var json = JsonDocument.Parse(File.ReadAllText(output));
        Assert.Equal("--server", json.RootElement.GetProperty("mcpServers").GetProperty("old").GetProperty("args").EnumerateArray().Reverse().Skip(1).First().GetString());
        var unknown = await Run(fixture, "mcp", "export-host", "--host", "emacs");
        Assert.NotEqual(0, unknown.ExitCode);
    }

    [Fact]
    public async Task Export_host_names_the_registry_server_for_a_short_local_name_and_takes_an_absolute_command()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """{"mcpServers": {"old": {"command": "npx", "args": ["-y", "@acme/old@1.0.0"]}}}""");
        var output = Path.Combine(fixture.Config.Root, "out", "claude.json");

        var export = await Run(fixture, "mcp", "export-host", "--host", "claude", "--output", output, "--command", "/opt/steward/bin/steward");

        Assert.True(export.ExitCode == 0, export.Stdout);
        var entry = JsonDocument.Parse(File.ReadAllText(output)).RootElement.GetProperty("mcpServers").GetProperty("old");
        Assert.Equal("/opt/steward/bin/steward", entry.GetProperty("command").GetString());
        Assert.Equal(["gateway", "--server", "io.acme/old"], entry.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToArray());

        var relative = await Run(fixture, "mcp", "export-host", "--host", "claude", "--output", output, "--command", "bin/steward");
        Assert.NotEqual(0, relative.ExitCode);
        Assert.Contains("--command: \"bin/steward\" is a relative path", relative.Stdout + relative.Stderr);
        Assert.Equal("/opt/steward/bin/steward", JsonDocument.Parse(File.ReadAllText(output)).RootElement.GetProperty("mcpServers").GetProperty("old").GetProperty("command").GetString());
    }

    [Fact]
    public async Task Logs_prints_the_last_lines_and_follow_prints_what_is_appended()
    {
        var dir = Directory.CreateTempSubdirectory("steward-logs-").FullName;
        var file = Path.Combine(dir, "steward.log");
        File.WriteAllLines(file, ["one", "two", "three"]);

        var last = new StringWriter();
        Assert.Equal(0, await LogsCommand.RunAsync(file, 2, follow: false, last, TextWriter.Null, CancellationToken.None));
        Assert.Equal("two\nthree\n", last.ToString());
        var all = new StringWriter();
        await LogsCommand.RunAsync(file, 50, follow: false, all, TextWriter.Null, CancellationToken.None);
        Assert.Equal("one\ntwo\nthree\n", all.ToString());

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new Signalling("four", stop);
        var following = LogsCommand.RunAsync(file, 1, follow: true, seen, TextWriter.Null, stop.Token);
        await File.AppendAllTextAsync(file, "four\n");
        Assert.Equal(0, await following);
        // "three" unless the append won the race with the first read; "four" exactly once either way.
        Assert.EndsWith("four\n", seen.ToString());
        Assert.Single(seen.ToString().Split('\n'), l => l == "four");
    }

    [Fact]
    public async Task Export_host_json_names_the_file_the_entries_written_and_each_server_left_out_with_its_decision()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """
            {"mcpServers": {
              "io.acme/old": {"type": "registry"},
              "io.acme/files": {"command": "npx", "args": ["-y", "@acme/files@2.0.0", "/tmp"], "disabled": true},
              "rogue": {"command": "npx", "args": ["-y", "@evil/miner"]}
            }}
            """);
        var output = Path.Combine(fixture.Config.Root, "out", "claude.json");

        var export = await Run(fixture, "mcp", "export-host", "--host", "claude", "--output", output, "--command", "/opt/steward/bin/steward", "--json");

        Assert.True(export.ExitCode == 0, export.Stdout);
        using var json = JsonDocument.Parse(export.Stdout);
        var root = json.RootElement;
        Assert.False(root.TryGetProperty("error", out _));
        Assert.Equal(("claude", output, "/opt/steward/bin/steward"), (root.GetProperty("host").GetString(), root.GetProperty("file").GetString(), root.GetProperty("command").GetString()));
        Assert.Equal(["io.acme/old"], root.GetProperty("exported").EnumerateArray().Select(e => e.GetString()!).ToArray());
        var skipped = root.GetProperty("skipped").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Equal(["io.acme/files", "rogue"], skipped.Keys.Order(StringComparer.Ordinal).ToArray());
        Assert.False(skipped["io.acme/files"].GetProperty("enabled").GetBoolean());
        Assert.Equal(("blocked", "not_in_registry"), (skipped["rogue"].GetProperty("decision").GetString(), skipped["rogue"].GetProperty("reason").GetString()));
        Assert.Empty(root.GetProperty("notes").EnumerateArray());
        Assert.True(File.Exists(output));
    }

    [Fact]
    public async Task Export_host_json_with_a_relative_command_is_a_usage_error_in_json_and_writes_nothing()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """{"mcpServers": {"io.acme/old": {"type": "registry"}}}""");
        var output = Path.Combine(fixture.Config.Root, "claude.json");

        var export = await Run(fixture, "mcp", "export-host", "--host", "claude", "--output", output, "--command", "bin/steward", "--json");

        Assert.Equal(ExitCodes.Usage, export.ExitCode);
        using var json = JsonDocument.Parse(export.Stdout);
        Assert.StartsWith("--command: \"bin/steward\" is a relative path", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(json.RootElement.GetProperty("exported").EnumerateArray());
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Repin_clears_every_version_of_a_server_and_json_lists_the_pins_cleared()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        File.WriteAllText(fixture.Config.Paths.PinsFile, """
            {
              "io.acme/old@1.0.0": {"server": "old", "registryName": "io.acme/old", "version": "1.0.0", "tools": {"a": "00"}},
              "io.acme/old@1.1.0": {"server": "old", "registryName": "io.acme/old", "version": "1.1.0", "tools": {"a": "01"}},
              "io.acme/files@2.0.0": {"server": "files", "registryName": "io.acme/files", "version": "2.0.0", "tools": {}}
            }
            """);

        var cleared = await Run(fixture, "mcp", "repin", "io.acme/old", "--json");
        var again = await Run(fixture, "mcp", "repin", "old", "--json");
        var text = await Run(fixture, "mcp", "repin", "files");

        Assert.Equal(0, cleared.ExitCode);
        using (var json = JsonDocument.Parse(cleared.Stdout))
        {
            Assert.Equal("io.acme/old", json.RootElement.GetProperty("server").GetString());
            Assert.Equal(["io.acme/old@1.0.0", "io.acme/old@1.1.0"], json.RootElement.GetProperty("cleared").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal).ToArray());
        }

        Assert.Equal(0, again.ExitCode);
        using (var json = JsonDocument.Parse(again.Stdout))
        {
            Assert.Empty(json.RootElement.GetProperty("cleared").EnumerateArray());
        }

        Assert.Equal(0, text.ExitCode);
        Assert.StartsWith("Cleared the tool pins of io.acme/files@2.0.0;", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Repin_on_a_machine_without_a_configuration_directory_says_there_are_no_pins()
    {
        using var config = new TempConfig();

        var text = await AgentCliRunner.RunAsync(config.Paths, config.Workspace, config.Home, TimeProvider.System, "mcp", "repin", "io.acme/old");
        var json = await AgentCliRunner.RunAsync(config.Paths, config.Workspace, config.Home, TimeProvider.System, "mcp", "repin", "io.acme/old", "--json");

        Assert.Equal((0, "No tool pins recorded for \"io.acme/old\".\n"), (text.ExitCode, text.Stdout));
        Assert.Equal(0, json.ExitCode);
        Assert.Empty(JsonDocument.Parse(json.Stdout).RootElement.GetProperty("cleared").EnumerateArray());
        Assert.False(Directory.Exists(config.Paths.ConfigDirectory), "repin creates nothing");
    }

    [Fact]
    public async Task Logs_json_prints_one_object_per_line_with_the_parts_of_each_event()
    {
        var dir = Directory.CreateTempSubdirectory("steward-logs-").FullName;
        var file = Path.Combine(dir, "steward.log");
        using (var logging = new Steward.Agent.Gateway.GatewayLogging(null, file))
        {
            var logger = logging.CreateLogger("Steward.Agent.Gateway.Gateway");
            Microsoft.Extensions.Logging.LoggerExtensions.Log(logger, Microsoft.Extensions.Logging.LogLevel.Warning, new Microsoft.Extensions.Logging.EventId(43), "Not starting \"rogue\"\nsecond line", []);
        }

        File.AppendAllText(file, "a line written by hand\n");

        var output = new StringWriter();
        Assert.Equal(0, await LogsCommand.RunAsync(file, 50, follow: false, output, TextWriter.Null, CancellationToken.None, json: true));

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        var entry = first.RootElement;
        Assert.Equal(("warning", "Gateway", 43), (entry.GetProperty("level").GetString(), entry.GetProperty("category").GetString(), entry.GetProperty("eventId").GetInt32()));
        Assert.Equal("Not starting \"rogue\"\\nsecond line", entry.GetProperty("message").GetString());
        Assert.True(DateTimeOffset.UtcNow - entry.GetProperty("time").GetDateTimeOffset() < TimeSpan.FromMinutes(5));
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("a line written by hand", second.RootElement.GetProperty("message").GetString());
        Assert.False(second.RootElement.TryGetProperty("level", out _));
    }

    [Fact]
    public async Task Logs_json_follow_prints_each_appended_line_as_an_object()
    {
        var dir = Directory.CreateTempSubdirectory("steward-logs-").FullName;
        var file = Path.Combine(dir, "steward.log");
        File.WriteAllText(file, "2026-01-02T03:04:05.678Z info PolicySync[7] first\n");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new Signalling("appended", stop);
        // Two lines: the first and the appended one, whether or not the append comes before the first read.
        var following = LogsCommand.RunAsync(file, 2, follow: true, seen, TextWriter.Null, stop.Token, json: true);
        await File.AppendAllTextAsync(file, "2026-01-02T03:04:06.000Z fail PolicySync[8] appended\n");
        Assert.Equal(0, await following);

        var lines = seen.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["first", "appended"], lines.Select(l => l.GetProperty("message").GetString()!).ToArray());
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero), lines[0].GetProperty("time").GetDateTimeOffset());
        Assert.Equal("error", lines[1].GetProperty("level").GetString());
    }

    [Fact]
    public async Task Logs_json_holds_a_line_read_in_two_pieces_until_it_is_whole_and_writes_a_last_line_without_a_newline()
    {
        var output = new StringWriter();
        var lines = new LogsCommand.Output(output, json: true);

        await lines.WriteAsync("2026-01-02T03:04:06.000Z warn Gateway[8] first half, ");
        Assert.Empty(output.ToString());
        await lines.WriteAsync("second half\r\nno newline");
        await lines.EndAsync();

        var written = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["first half, second half", "no newline"], written.Select(l => l.GetProperty("message").GetString()!).ToArray());
    }

    /// <summary>Cancels <paramref name="stop"/> once <paramref name="expected"/> has been written.</summary>
    private sealed class Signalling(string expected, CancellationTokenSource stop) : StringWriter
    {
        public override Task WriteLineAsync(string? value) => WriteAsync(value + "\n");

        public override Task WriteAsync(string? value)
        {
            base.Write(value);
            if (ToString().Contains(expected, StringComparison.Ordinal))
            {
                stop.Cancel();
            }

            return Task.CompletedTask;
        }
    }
}
