using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Agent.Tests.Support;
using Steward.Server.Exports;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// The real hosts of <c>tests/node</c> (Claude Code, Gemini CLI, GitHub Copilot CLI) read Steward's exports, as a
/// running Steward server serves them to its admin, from their system paths (<c>/etc/claude-code</c>, <c>/etc/gemini-cli</c>, <c>/etc/github-copilot</c>) and start Steward's gateway
/// from them. The system files live only
/// in a private mount namespace (bubblewrap with a tmpfs over <c>/etc</c> that re-binds every real entry but the host's
/// folder), never in this machine's <c>/etc</c>; HOME is a temp directory; <c>steward</c> on PATH is this build.
/// </summary>
[Collection(RealHostCollection.Name)]
public sealed class RealHostTests : IAsyncLifetime
{
    private const string Name = "io.github.modelcontextprotocol/server-everything";
    private const string Flat = "server-everything";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(180);

    /// <summary>The hosts' folders under /etc: Claude Code's, Gemini CLI's and GitHub Copilot CLI's (its managed-settings.json on Linux).</summary>
    private static readonly string[] SystemFolders = ["claude-code", "gemini-cli", "github-copilot"];

    private readonly string root = Directory.CreateTempSubdirectory("steward-hosts-").FullName;

    private StewardServerHost? server;

    private string Home => Path.Combine(root, "home");

    private string ConfigDir => Path.Combine(root, "config");

    private string Bin => Path.Combine(root, "bin");

    private string SystemDir(string host) => Path.Combine(root, "etc", host);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>What the running server exports for the demo organisation (gateway mode, the default), as an admin downloads it.</summary>
    private async Task<string> ExportAsync(string format, string mode = "gateway")
    {
        using var admin = Server.Client();
        using var response = await admin.GetAsync($"api/v1/orgs/demo/exports/{format}?mode={mode}");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"export {format}: {(int)response.StatusCode} {body}");
        return body;
    }

    private StewardServerHost Server => server ?? throw new InvalidOperationException("SetUpAsync first");

    /// <summary>
    /// A Steward server on 127.0.0.1 whose demo organisation approves server-everything only (the demo's other servers
    /// withdrawn, so the hosts start no more than one gateway), HOME, a Steward config directory logged in to that server
    /// with a developer token, and a <c>steward</c> on PATH running this build.
    /// </summary>
    private async Task SetUpAsync()
    {
        Directory.CreateDirectory(Home);
        Directory.CreateDirectory(ConfigDir);
        Directory.CreateDirectory(Bin);
        foreach (var host in SystemFolders)
        {
            Directory.CreateDirectory(SystemDir(host));
        }

        server = await StewardServerHost.StartAsync(TimeProvider.System);
        using (var anonymous = new HttpClient { BaseAddress = new Uri(Server.BaseUrl) })
        {
            foreach (var listed in JsonNode.Parse(await anonymous.GetStringAsync("v0.1/servers"))!["servers"]!.AsArray())
            {
                var (name, version) = ((string)listed!["server"]!["name"]!, (string)listed["server"]!["version"]!);
                if (name != Name)
                {
                    await Server.DeleteVersionAsync(name, version);
                }
                else
                {
                    Assert.Equal(NodePackages.ServerEverythingVersion, version);
                }
            }
        }

        var steward = Path.Combine(Bin, "steward");
        await File.WriteAllTextAsync(steward, $"#!/bin/sh\nexec dotnet '{Path.Combine(AppContext.BaseDirectory, "steward.dll")}' \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(steward, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var login = await RunAsync(["steward", "login", Server.BaseUrl, "--token", await Server.DeveloperTokenAsync(), "--allow-http"], sandboxed: false);
        Assert.True(login.ExitCode == 0, login.Output);
    }

    private string PathVariable => NodePackages.PathWith(Bin, Path.GetDirectoryName(NodePackages.Node22)!);

    /// <summary>
    /// Runs <paramref name="argv"/> from tests/node (so that the gateway's <c>npx -y server-everything</c> finds the
    /// installed copy offline) with HOME and the Steward config directory of this test, in a private mount namespace
    /// where <c>/etc/claude-code</c>, <c>/etc/gemini-cli</c> and <c>/etc/github-copilot</c> are this test's folders.
    /// </summary>
    private async Task<(int ExitCode, string Output)> RunAsync(IReadOnlyList<string> argv, bool sandboxed = true, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(sandboxed ? SandboxFactAttribute.Bwrap : argv[0] == "steward" ? Path.Combine(Bin, "steward") : argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = NodePackages.Root,
        };
        if (sandboxed)
        {
            foreach (var arg in NamespaceArguments())
            {
                start.ArgumentList.Add(arg);
            }

            start.ArgumentList.Add("--");
            start.ArgumentList.Add(argv[0]);
        }

        foreach (var arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HOME"] = Home;
        start.Environment["STEWARD_CONFIG_DIR"] = ConfigDir;
        start.Environment["PATH"] = PathVariable;
        start.Environment["npm_config_offline"] = "true";
        start.Environment["CI"] = "true"; // hosts: no interactive prompts, no update checks
        start.Environment["DISABLE_AUTOUPDATER"] = "1";
        start.Environment["MCP_TIMEOUT"] = "120000"; // Claude Code: a loaded CI machine starts `dotnet steward.dll` slowly
        start.Environment.Remove("GEMINI_CLI_SYSTEM_SETTINGS_PATH"); // the system file is the one in /etc
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("COPILOT_", StringComparison.Ordinal) || k is "GH_TOKEN" or "GITHUB_TOKEN" or "GH_HOST").ToList())
        {
            start.Environment.Remove(key); // Copilot: no account, no provider and no managed-settings path but the test's own
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Guard);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>bwrap: the real root, but /etc a tmpfs holding every real entry except the hosts' system folders, which are this test's.</summary>
    private List<string> NamespaceArguments()
    {
        var args = new List<string> { "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/etc" };
        foreach (var entry in new DirectoryInfo("/etc").EnumerateFileSystemInfos())
        {
            if (SystemFolders.Contains(entry.Name))
            {
                continue;
            }

            if (entry.LinkTarget is { } target)
            {
                args.AddRange(["--symlink", target, entry.FullName]);
            }
            else
            {
                args.AddRange(["--bind", entry.FullName, entry.FullName]);
            }
        }

        foreach (var host in SystemFolders)
        {
            Directory.CreateDirectory(SystemDir(host));
            args.AddRange(["--bind", SystemDir(host), "/etc/" + host]);
        }

        return args;
    }

    /// <summary>No line about Steward's files, its gateway or the server it serves carries a complaint.</summary>
    private static void AssertNoWarningAbout(string output)
    {
        var about = output.Split('\n').Where(l => l.Contains("steward", StringComparison.OrdinalIgnoreCase) || l.Contains(Flat, StringComparison.Ordinal) ||
                                                 l.Contains("settings.json", StringComparison.Ordinal) || l.Contains("managed-mcp", StringComparison.Ordinal)).ToList();
        foreach (var word in new[] { "invalid", "Invalid", "unknown key", "Unrecognized", "not permitted", "schema", "Truncating", "Warning", "warning", "ignored" })
        {
            Assert.False(about.Any(l => l.Contains(word, StringComparison.Ordinal)), $"the host complained ({word}):\n{output}");
        }
    }

    private string StewardLog => File.Exists(Path.Combine(ConfigDir, "steward.log")) ? File.ReadAllText(Path.Combine(ConfigDir, "steward.log")) : "";

    [HostFact("claude")]
    public async Task Claude_code_runs_the_direct_mode_managed_mcp_json_upstream_and_its_allowlist_refuses_a_user_gateway_entry()
    {
        // Direct mode, for machines without Steward: the host starts the upstream itself, and only that argv is allowed.
        await SetUpAsync();
        await File.WriteAllTextAsync(Path.Combine(SystemDir("claude-code"), "managed-settings.json"), await ExportAsync(ExportFormats.ClaudeSettings, "direct"));
        await File.WriteAllTextAsync(Path.Combine(Home, ".claude.json"), $$$"""
            {"mcpServers": {"via-steward": {"command": "steward", "args": ["gateway", "--server", "{{{Name}}}"]},
                            "direct-copy": {"command": "npx", "args": ["-y", "{{{NodePackages.ServerEverything}}}@{{{NodePackages.ServerEverythingVersion}}}"]} } }
            """);
        var allowlisted = await RunAsync(["claude", "mcp", "list"]);
        Assert.True(allowlisted.ExitCode == 0, allowlisted.Output);
        Assert.Contains($"direct-copy: npx -y {NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion} - ✔ Connected", allowlisted.Output);
        Assert.DoesNotContain("via-steward:", allowlisted.Output);

        await File.WriteAllTextAsync(Path.Combine(SystemDir("claude-code"), "managed-mcp.json"), await ExportAsync(ExportFormats.ClaudeManagedMcp, "direct"));
        var managed = await RunAsync(["claude", "mcp", "list"]);
        Assert.True(managed.ExitCode == 0, managed.Output);
        Assert.Contains($"{Flat}: npx -y {NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion} - ✔ Connected", managed.Output);
        AssertNoWarningAbout(managed.Output);
    }

    [HostFact("claude")]
    public async Task Claude_code_connects_to_the_gateway_mode_managed_mcp_json_and_its_allowlist_admits_that_argv()
    {
        await SetUpAsync();
        await File.WriteAllTextAsync(Path.Combine(SystemDir("claude-code"), "managed-mcp.json"), await ExportAsync(ExportFormats.ClaudeManagedMcp));
        await File.WriteAllTextAsync(Path.Combine(SystemDir("claude-code"), "managed-settings.json"), await ExportAsync(ExportFormats.ClaudeSettings));

        var list = await RunAsync(["claude", "mcp", "list"]);

        Assert.True(list.ExitCode == 0, list.Output);
        Assert.Contains($"{Flat}: steward gateway --server {Name} - ✔ Connected", list.Output);
        AssertNoWarningAbout(list.Output);
        var get = await RunAsync(["claude", "mcp", "get", Flat]);
        Assert.Contains("Connected", get.Output);
        Assert.Contains("steward", get.Output);
        Assert.Contains($"\"{Name}\" is up", StewardLog);
    }

    [HostFact("claude")]
    public async Task Claude_code_with_the_gateway_allowlist_runs_export_hosts_entry_and_not_the_same_server_started_directly()
    {
        await SetUpAsync();
        await File.WriteAllTextAsync(Path.Combine(SystemDir("claude-code"), "managed-settings.json"), await ExportAsync(ExportFormats.ClaudeSettings));
        var add = await RunAsync(["steward", "mcp", "add", Name], sandboxed: false);
        Assert.True(add.ExitCode == 0, add.Output);
        // The developer's own user-scope servers: the upstream started directly, which the allowlist does not admit.
        var userFile = Path.Combine(Home, ".claude.json");
        await File.WriteAllTextAsync(userFile, $$$"""
            {"mcpServers": {"direct": {"command": "npx", "args": ["-y", "{{{NodePackages.ServerEverything}}}@{{{NodePackages.ServerEverythingVersion}}}"]} } }
            """);
        var export = await RunAsync(["steward", "mcp", "export-host", "--host", "claude", "--output", userFile], sandboxed: false);
        Assert.True(export.ExitCode == 0, export.Output);
        Assert.DoesNotContain("not on PATH", export.Output);

        var list = await RunAsync(["claude", "mcp", "list"]);

        Assert.True(list.ExitCode == 0, list.Output);
        // export-host names the entry with the short key the admin's exports use (tool names stay within 64 characters).
        Assert.Contains($"{Flat}: steward gateway --server {Name} - ✔ Connected", list.Output);
        Assert.DoesNotContain("direct:", list.Output);
        AssertNoWarningAbout(list.Output);
    }

    [HostFact("claude")]
    public async Task A_claude_code_session_offers_the_gateways_tools_to_the_model_and_its_call_is_answered_and_audited()
    {
        await SetUpAsync();
        await File.WriteAllTextAsync(Path.Combine(SystemDir("claude-code"), "managed-mcp.json"), await ExportAsync(ExportFormats.ClaudeManagedMcp));
        await File.WriteAllTextAsync(Path.Combine(SystemDir("claude-code"), "managed-settings.json"), await ExportAsync(ExportFormats.ClaudeSettings));
        await using var model = new FakeAnthropic();
        var serverTools = "mcp__" + Flat;

        var session = await RunAsync(["claude", "-p", "Say hello through the echo tool.", "--allowedTools", serverTools], environment: new Dictionary<string, string>
        {
            ["ANTHROPIC_BASE_URL"] = model.Url,
            ["ANTHROPIC_API_KEY"] = "sk-ant-loopback-stand-in",
            // MCP servers connected before the first request, and their tools offered directly (not behind tool search).
            ["MCP_CONNECTION_NONBLOCKING"] = "false",
            ["ENABLE_TOOL_SEARCH"] = "false",
        });

        Assert.True(session.ExitCode == 0, session.Output);
        var requests = model.Requests.ToList();
        Assert.Contains(requests, r => r.Tools.Contains(serverTools + "__echo") && r.Tools.Contains(serverTools + "__get-sum"));
        // The model's call went through the gateway to server-everything and its answer came back to the model.
        Assert.Contains(requests, r => r.ToolResults.Any(t => t.Contains("Echo: " + FakeAnthropic.Message, StringComparison.Ordinal)));
        Assert.Contains("done", session.Output);
        var audit = AuditFile.Final(Path.Combine(ConfigDir, "audit.jsonl"));
        Assert.Contains(audit, l => l.Contains($"\"server\":\"{Name}\"", StringComparison.Ordinal) && l.Contains("\"tool\":\"echo\"", StringComparison.Ordinal) && l.Contains("\"decision\":\"allow\"", StringComparison.Ordinal));
    }

    /// <summary>
    /// Copilot CLI in its offline bring-your-own-key mode (<c>COPILOT_OFFLINE</c>: no GitHub account, telemetry or
    /// update check; <c>COPILOT_PROVIDER_BASE_URL</c>: an OpenAI chat-completions endpoint, here the loopback stand-in).
    /// </summary>
    private static Dictionary<string, string> CopilotEnvironment(FakeOpenAi model) => new()
    {
        ["COPILOT_OFFLINE"] = "true",
        ["COPILOT_PROVIDER_BASE_URL"] = model.Url,
        ["COPILOT_PROVIDER_TYPE"] = "openai",
        ["COPILOT_PROVIDER_API_KEY"] = "sk-loopback-stand-in",
        ["COPILOT_MODEL"] = "gpt-4.1",
    };

    [HostFact("copilot")]
    public async Task A_copilot_cli_session_under_the_managed_allowlist_offers_the_gateways_tools_and_not_a_direct_server_and_its_call_is_answered_and_audited()
    {
        await SetUpAsync();
        var add = await RunAsync(["steward", "mcp", "add", Name], sandboxed: false);
        Assert.True(add.ExitCode == 0, add.Output);
        // The developer's own servers: the upstream started directly, which the allowlist does not admit, and the
        // gateway entry export-host writes to Copilot's user file (its default for --host copilot).
        var userFile = Path.Combine(Home, ".copilot", "mcp-config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(userFile)!);
        await File.WriteAllTextAsync(userFile, $$$"""
            {"mcpServers": {"direct": {"command": "npx", "args": ["-y", "{{{NodePackages.ServerEverything}}}@{{{NodePackages.ServerEverythingVersion}}}"]} } }
            """);
        var export = await RunAsync(["steward", "mcp", "export-host", "--host", "copilot"], sandboxed: false);
        Assert.True(export.ExitCode == 0, export.Output);
        var managed = Path.Combine(SystemDir("github-copilot"), "managed-settings.json");
        await File.WriteAllTextAsync(managed, await ExportAsync(ExportFormats.Copilot));
        await using var model = new FakeOpenAi();
        // Copilot names an MCP tool <server>-<tool>, the server being the entry's key: export-host's short one.
        var serverTools = Flat + "-";
        // Debug logging: Copilot logs a server its allowlist refuses only at that level.
        string[] prompt = ["copilot", "-p", "Say hello through the echo tool.", "--allow-all-tools", "--log-level", "debug"];

        var session = await RunAsync(prompt, environment: CopilotEnvironment(model));

        Assert.True(session.ExitCode == 0, session.Output);
        AssertNoWarningAbout(session.Output);
        var requests = model.Requests.ToList();
        Assert.Contains(requests, r => r.Tools.Contains(serverTools + "echo") && r.Tools.Contains(serverTools + "get-sum"));
        Assert.DoesNotContain(requests, r => r.Tools.Any(t => t.StartsWith("direct-", StringComparison.Ordinal)));
        // The model's call went through the gateway to server-everything and its answer came back to the model.
        Assert.Contains(requests, r => r.ToolResults.Any(t => t.Contains("Echo: " + FakeOpenAi.Message, StringComparison.Ordinal)));
        Assert.Contains(FakeOpenAi.Answer, session.Output);
        var audit = AuditFile.Final(Path.Combine(ConfigDir, "audit.jsonl"));
        Assert.Contains(audit, l => l.Contains($"\"server\":\"{Name}\"", StringComparison.Ordinal) && l.Contains("\"tool\":\"echo\"", StringComparison.Ordinal) && l.Contains("\"decision\":\"allow\"", StringComparison.Ordinal));
        // Copilot took /etc/github-copilot/managed-settings.json as its device policy (its log says so)...
        var logs = string.Concat(Directory.GetFiles(Path.Combine(Home, ".copilot", "logs"), "*.log").Select(File.ReadAllText));
        Assert.Contains("[managedSettings] device MDM policy loaded:", logs);
        Assert.Contains("[managedSettings] effective policy resolved: source=mdm,", logs);
        Assert.Matches(@"device MDM policy loaded: [^\n]*keys=\[[^\]\n]*allowedMcpServers", logs);
        Assert.Contains("Skipping MCP server \"direct\": not permitted by enterprise managed allow list", logs);
        Assert.DoesNotContain($"Skipping MCP server \"{Name}\"", logs);

        // ...and it is that policy that keeps the direct server out: without it, the same session runs it.
        File.Delete(managed);
        model.Requests.Clear();
        var ungoverned = await RunAsync(prompt, environment: CopilotEnvironment(model));

        Assert.True(ungoverned.ExitCode == 0, ungoverned.Output);
        Assert.Contains(model.Requests, r => r.Tools.Contains("direct-echo"));
    }

    [HostFact("gemini")]
    public async Task Gemini_cli_connects_to_the_gateway_from_system_settings_and_a_user_server_reusing_the_name_does_not_run()
    {
        await SetUpAsync();
        await File.WriteAllTextAsync(Path.Combine(SystemDir("gemini-cli"), "settings.json"), await ExportAsync(ExportFormats.Gemini));
        Directory.CreateDirectory(Path.Combine(Home, ".gemini"));
        await File.WriteAllTextAsync(Path.Combine(Home, ".gemini", "trustedFolders.json"), JsonSerializer.Serialize(new Dictionary<string, string> { [NodePackages.Root!] = "TRUST_FOLDER" }));
        // The user's settings reuse the allowed name with another command, and add a server of their own.
        await File.WriteAllTextAsync(Path.Combine(Home, ".gemini", "settings.json"), $$$"""
            {"mcpServers": {"{{{Flat}}}": {"command": "npx", "args": ["-y", "@evil/miner"]}, "rogue": {"command": "npx", "args": ["-y", "@evil/miner"]} } }
            """);

        var list = await RunAsync(["gemini", "mcp", "list"]);

        Assert.True(list.ExitCode == 0, list.Output);
        Assert.Contains($"✓ {Flat}: steward gateway --server {Name} (stdio) - Connected", list.Output);
        Assert.Contains("rogue: npx -y @evil/miner (stdio) - Blocked", list.Output);
        Assert.DoesNotContain("@evil/miner (stdio) - Connected", list.Output);
        AssertNoWarningAbout(list.Output);
        // Gemini asks for 2025-06-18 and the gateway answers in it (it used to answer 2025-11-25, which Gemini refused).
        Assert.DoesNotContain("protocol version is not supported", list.Output);
    }

    [HostFact("gemini")]
    public async Task A_gemini_cli_session_offers_the_gateways_tools_to_the_model_and_its_call_is_answered_and_audited()
    {
        await SetUpAsync();
        await File.WriteAllTextAsync(Path.Combine(SystemDir("gemini-cli"), "settings.json"), await ExportAsync(ExportFormats.Gemini));
        Directory.CreateDirectory(Path.Combine(Home, ".gemini"));
        await File.WriteAllTextAsync(Path.Combine(Home, ".gemini", "trustedFolders.json"), JsonSerializer.Serialize(new Dictionary<string, string> { [NodePackages.Root!] = "TRUST_FOLDER" }));
        await File.WriteAllTextAsync(Path.Combine(Home, ".gemini", "settings.json"), """{"security": {"auth": {"selectedType": "gemini-api-key"}}}""");
        await using var model = new FakeGemini();

        var session = await RunAsync(["gemini", "-p", "Say hello through the echo tool.", "--yolo"], environment: new Dictionary<string, string>
        {
            ["GOOGLE_GEMINI_BASE_URL"] = model.Url,
            ["GEMINI_API_KEY"] = "loopback-stand-in",
        });

        Assert.True(session.ExitCode == 0, session.Output);
        AssertNoWarningAbout(session.Output);
        var requests = model.Requests.ToList();
        Assert.Contains(requests, r => r.Tools.Contains($"mcp_{Flat}_echo") && r.Tools.Contains($"mcp_{Flat}_get-sum"));
        Assert.Contains(requests, r => r.Responses.Any(t => t.Contains("Echo: " + FakeGemini.Message, StringComparison.Ordinal)));
        Assert.Contains("done", session.Output);
        var audit = AuditFile.Final(Path.Combine(ConfigDir, "audit.jsonl"));
        Assert.Contains(audit, l => l.Contains($"\"server\":\"{Name}\"", StringComparison.Ordinal) && l.Contains("\"tool\":\"echo\"", StringComparison.Ordinal));
    }

    [HostFact("gemini")]
    public async Task Gemini_cli_connects_to_the_entry_export_host_writes()
    {
        await SetUpAsync();
        var add = await RunAsync(["steward", "mcp", "add", Name], sandboxed: false);
        Assert.True(add.ExitCode == 0, add.Output);
        Directory.CreateDirectory(Path.Combine(Home, ".gemini"));
        await File.WriteAllTextAsync(Path.Combine(Home, ".gemini", "trustedFolders.json"), JsonSerializer.Serialize(new Dictionary<string, string> { [NodePackages.Root!] = "TRUST_FOLDER" }));
        var export = await RunAsync(["steward", "mcp", "export-host", "--host", "gemini", "--output", Path.Combine(Home, ".gemini", "settings.json")], sandboxed: false);
        Assert.True(export.ExitCode == 0, export.Output);

        var list = await RunAsync(["gemini", "mcp", "list"]);

        Assert.True(list.ExitCode == 0, list.Output);
        // Under the short key the admin's Gemini export gives the server too.
        Assert.Contains($"✓ {Flat}: steward gateway --server {Name} (stdio) - Connected", list.Output);
        AssertNoWarningAbout(list.Output);
    }
}

/// <summary>The hosts are heavy (a Bun binary, Node, the gateway and server-everything each): one at a time, apart from other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RealHostCollection
{
    public const string Name = "real hosts";
}

/// <summary>
/// A test that runs a real host from tests/node inside a private mount namespace: skipped with the reason when the host,
/// the npm packages or bubblewrap (with mount namespaces) are missing, except under CI, where it runs and fails.
/// </summary>
internal sealed class HostFactAttribute : FactAttribute
{
    public HostFactAttribute(string host)
    {
        if (NodePackages.InCi)
        {
            return;
        }

        var binary = Path.Combine(NodePackages.Bin, host);
        if (NodePackages.MissingReason is { } reason)
        {
            Skip = reason;
        }
        else if (!File.Exists(binary))
        {
            Skip = $"{binary} is missing: run `npm ci --prefix tests/node` to install the hosts";
        }
        else if (!OperatingSystem.IsLinux() || !File.Exists(SandboxFactAttribute.Bwrap))
        {
            Skip = "the hosts' system files need a private mount namespace: bubblewrap on Linux (apt-get install bubblewrap)";
        }
        else if (!NamespacesWork())
        {
            Skip = "bubblewrap cannot make a mount namespace here (it needs root or unprivileged user namespaces)";
        }
    }

    private static bool NamespacesWork()
    {
        try
        {
            using var probe = Process.Start(new ProcessStartInfo(SandboxFactAttribute.Bwrap, ["--bind", "/", "/", "--tmpfs", "/etc", "true"]) { UseShellExecute = false, RedirectStandardError = true })!;
            probe.WaitForExit(30_000);
            return probe.HasExited && probe.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
