using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Steward.Agent;
using Steward.Agent.Tests.Support;

namespace Steward.Cli.Tests.AgentCommands;

/// <summary>
/// <c>steward login --device</c> and <c>--oidc</c>: the real <c>steward</c> process against the real Steward server and
/// the local OIDC issuer (real keys), with the test in the user's place (approving the device code, or being the browser).
/// </summary>
public sealed partial class OidcLoginCommandTests
{
    private static async Task<StewardServerHost> ServerAsync(LocalIssuer? issuer)
    {
        var server = await StewardServerHost.StartAsync(TimeProvider.System);
        _ = await server.DeveloperTokenAsync("team");
        if (issuer is not null)
        {
            using var admin = server.Client();
            using var put = await admin.PutAsync("api/v1/orgs/demo/oidc", new StringContent(
                $$"""{"issuer": "{{issuer.Issuer}}", "clientId": "{{LocalIssuer.ClientId}}", "adminGroups": ["steward-admins"]}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        return server;
    }

    [GeneratedRegex(@"enter the code (\S+)$")]
    private static partial Regex UserCodeLine();

    [Fact]
    public async Task Device_login_prints_the_code_on_stderr_honours_slow_down_and_stores_the_exchanged_token_0600()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        issuer.SlowDownFirstPoll = true;
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, "--device", "--allow-http");

        var code = UserCodeLine().Match(await cli.StderrLineAsync(l => l.Contains("enter the code", StringComparison.Ordinal))).Groups[1].Value;
        Assert.Contains(issuer.Issuer + "/device?user_code=" + Uri.EscapeDataString(code), await cli.StderrLineAsync(l => l.Contains("user_code=", StringComparison.Ordinal)), StringComparison.Ordinal);
        await issuer.Polled;
        await issuer.DecideAsync(code, approve: true);
        var outcome = await cli.ExitAsync();

        Assert.True(outcome.ExitCode == 0, outcome.Stdout + outcome.Stderr);
        Assert.Equal(1, issuer.SlowDowns);
        Assert.Contains($"logged in: {server.BaseUrl} (steward-server)", outcome.Stdout, StringComparison.Ordinal);
        Assert.Contains("server signing key pinned: ", outcome.Stdout, StringComparison.Ordinal);
        Assert.Contains($"signed in at {issuer.Issuer} as account team", outcome.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(code, outcome.Stdout, StringComparison.Ordinal);
        var token = await File.ReadAllTextAsync(config.Paths.TokenFile);
        Assert.StartsWith("stw_", token, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.Paths.TokenFile));
        }
        Assert.DoesNotContain(token, outcome.Stdout + outcome.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("eyJ", outcome.Stdout + outcome.Stderr, StringComparison.Ordinal);
        using var developer = new HttpClient { BaseAddress = new Uri(server.BaseUrl + "/") };
        developer.DefaultRequestHeaders.Authorization = new("Bearer", token);
        Assert.Equal(HttpStatusCode.OK, (await developer.GetAsync("api/v1/policy")).StatusCode);
    }

    [Fact]
    public async Task Device_login_denied_at_the_provider_exits_1_and_changes_nothing()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, "--device", "--allow-http");

        var code = UserCodeLine().Match(await cli.StderrLineAsync(l => l.Contains("enter the code", StringComparison.Ordinal))).Groups[1].Value;
        await issuer.DecideAsync(code, approve: false);
        var outcome = await cli.ExitAsync();

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("error: the sign-in was denied at the identity provider (access_denied)", outcome.Stderr, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", outcome.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(config.Paths.SourceFile));
        Assert.False(File.Exists(config.Paths.TokenFile));
    }

    [Fact]
    public async Task Device_login_whose_code_expires_says_so_and_exits_1()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, "--device", "--allow-http");

        var code = UserCodeLine().Match(await cli.StderrLineAsync(l => l.Contains("enter the code", StringComparison.Ordinal))).Groups[1].Value;
        issuer.Expire(code);
        var outcome = await cli.ExitAsync();

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains($"the code {code} expired before the sign-in was approved (expired_token); run steward login --device again", outcome.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(config.Paths.SourceFile));
    }

    [Fact]
    public async Task Device_login_with_a_client_the_provider_keeps_confidential_says_what_it_must_allow()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        issuer.PublicClient = false;
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, "--device", "--allow-http");

        var outcome = await cli.ExitAsync();

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains($"refused the client {LocalIssuer.ClientId} (invalid_client) (client authentication required): it must allow public clients", outcome.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(config.Paths.SourceFile));
    }

    [Fact]
    public async Task Browser_login_without_a_browser_prints_a_loopback_url_and_signs_in_when_it_is_visited()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, "--oidc", "--no-browser", "--allow-http");

        var url = await cli.UrlAsync();
        var query = System.Web.HttpUtility.ParseQueryString(new Uri(url).Query);
        Assert.StartsWith(issuer.Issuer + "/authorize?", url, StringComparison.Ordinal);
        Assert.Matches(@"^http://127\.0\.0\.1:\d+/callback$", query["redirect_uri"]);
        Assert.Equal(("S256", LocalIssuer.ClientId), (query["code_challenge_method"], query["client_id"]));
        using var browser = new HttpClient();
        using var landed = await browser.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, landed.StatusCode);
        Assert.Contains("Signed in", await landed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var outcome = await cli.ExitAsync();

        Assert.True(outcome.ExitCode == 0, outcome.Stdout + outcome.Stderr);
        Assert.Contains($"signed in at {issuer.Issuer} as account team", outcome.Stdout, StringComparison.Ordinal);
        Assert.StartsWith("stw_", await File.ReadAllTextAsync(config.Paths.TokenFile), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.Paths.TokenFile));
        }
    }

    /// <summary>On Linux: a graphical session (DISPLAY) and an <c>xdg-open</c> on PATH that records its arguments.</summary>
    [LinuxFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Browser_login_opens_the_system_browser_with_the_url_as_its_one_argument()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        var bin = Directory.CreateDirectory(Path.Combine(config.Root, "bin")).FullName;
        var opened = Path.Combine(config.Root, "opened");
        var opener = Path.Combine(bin, "xdg-open");
        await File.WriteAllTextAsync(opener, $"#!/bin/sh\nprintf '%s\\n' \"$#\" \"$1\" > '{opened}'\n");
        File.SetUnixFileMode(opener, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = new Dictionary<string, string?> { ["DISPLAY"] = ":0", ["PATH"] = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH") };
        await using var cli = LoginProcess.Start(config, environment, "login", server.BaseUrl, "--oidc", "--allow-http");

        var url = await cli.UrlAsync();
        Assert.Contains("Your browser has been opened", await cli.AllStderrAsync(), StringComparison.Ordinal);
        Assert.Equal(["1", url], await File.ReadAllLinesAsync(opened));
        using var browser = new HttpClient();
        using var landed = await browser.GetAsync(url);
        var outcome = await cli.ExitAsync();

        Assert.True(outcome.ExitCode == 0, outcome.Stdout + outcome.Stderr);
        Assert.True(File.Exists(config.Paths.TokenFile));
    }

    [Fact]
    public async Task Browser_login_refuses_an_answer_with_another_state_and_changes_nothing()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, "--oidc", "--no-browser", "--allow-http");

        var url = await cli.UrlAsync();
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var authorized = await browser.GetAsync(url);
        Assert.Equal(HttpStatusCode.Redirect, authorized.StatusCode);
        var callback = Regex.Replace(authorized.Headers.Location!.ToString(), "state=[^&]*", "state=forged-by-another-page");
        using var forged = await browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        var outcome = await cli.ExitAsync();

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("carries another state than this sign-in's", outcome.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(config.Paths.SourceFile));
        Assert.False(File.Exists(config.Paths.TokenFile));
    }

    [Fact]
    public async Task Browser_login_denied_at_the_provider_exits_1()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        issuer.DenyAuthorization = true;
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, "--oidc", "--no-browser", "--allow-http");

        using var browser = new HttpClient();
        using var landed = await browser.GetAsync(await cli.UrlAsync());
        Assert.Equal(HttpStatusCode.BadRequest, landed.StatusCode);
        var outcome = await cli.ExitAsync();

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("error: the sign-in was denied at the identity provider (access_denied) (The user denied the request)", outcome.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(config.Paths.TokenFile));
    }

    [Fact]
    public async Task Browser_login_that_never_comes_back_ends_at_the_timeout()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerAsync(issuer);
        using var config = new TempConfig();
        await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, "--oidc", "--no-browser", "--oidc-timeout", "2s", "--allow-http");

        var outcome = await cli.ExitAsync();

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("no sign-in came back from the browser within 2s", outcome.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_with_oidc_or_device_at_a_server_without_single_sign_on_says_so_and_exits_1()
    {
        await using var server = await ServerAsync(null);
        using var config = new TempConfig();
        foreach (var flow in new[] { "--oidc", "--device" })
        {
            await using var cli = LoginProcess.Start(config, null, "login", server.BaseUrl, flow, "--allow-http");
            var outcome = await cli.ExitAsync();

            Assert.Equal(1, outcome.ExitCode);
            Assert.Contains($"error: {server.BaseUrl} has no single sign-on (OIDC) configured; log in with a token instead", outcome.Stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(config.Paths.SourceFile));
        }
    }

    /// <summary>A test of what steward does on Linux (xdg-open); elsewhere it is skipped and says so.</summary>
    private sealed class LinuxFactAttribute : FactAttribute
    {
        public LinuxFactAttribute()
        {
            if (!OperatingSystem.IsLinux())
            {
                Skip = "runs on Linux only (the browser is opened with xdg-open there)";
            }
        }
    }

    /// <summary>The built <c>steward</c> as a child process whose stderr the test reads line by line while it runs.</summary>
    private sealed class LoginProcess : IAsyncDisposable
    {
        private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
        private readonly Process process;
        private readonly Channel<string> lines = Channel.CreateUnbounded<string>();
        private readonly StringBuilder stderr = new();
        private readonly Task<string> stdout;
        private readonly Task stderrDone;

        private LoginProcess(Process process)
        {
            this.process = process;
            stdout = process.StandardOutput.ReadToEndAsync();
            stderrDone = Task.Run(async () =>
            {
                while (await process.StandardError.ReadLineAsync() is { } line)
                {
                    lock (stderr)
                    {
                        stderr.AppendLine(line);
                    }

                    await lines.Writer.WriteAsync(line);
                }

                lines.Writer.Complete();
            });
        }

        public static LoginProcess Start(TempConfig config, IDictionary<string, string?>? environment, params string[] args)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = config.Workspace };
            start.Environment[StewardPaths.ConfigDirectoryVariable] = config.Paths.ConfigDirectory;
            start.Environment.Remove("DISPLAY");
            start.Environment.Remove("WAYLAND_DISPLAY");
            start.Environment.Remove(Steward.Agent.Sources.SourceStore.TokenVariable);
            foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            {
                start.Environment[name] = value;
            }

            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "steward.dll"));
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start)!;
            process.StandardInput.Close();
            return new LoginProcess(process);
        }

        /// <summary>The next stderr line that matches; fails (rather than hangs) when the process ends first.</summary>
        public async Task<string> StderrLineAsync(Func<string, bool> match)
        {
            using var patience = new CancellationTokenSource(Patience);
            await foreach (var line in lines.Reader.ReadAllAsync(patience.Token))
            {
                if (match(line))
                {
                    return line;
                }
            }

            var outcome = await ExitAsync();
            Assert.Fail($"steward exited ({outcome.ExitCode}) without the expected line: {outcome.Stdout}{outcome.Stderr}");
            return "";
        }

        /// <summary>The authorization URL the browser sign-in prints (indented, on its own line).</summary>
        public async Task<string> UrlAsync() => (await StderrLineAsync(l => l.StartsWith("  http", StringComparison.Ordinal))).Trim();

        public Task<string> AllStderrAsync()
        {
            lock (stderr)
            {
                return Task.FromResult(stderr.ToString());
            }
        }

        public async Task<CliRunner.Outcome> ExitAsync()
        {
            using var patience = new CancellationTokenSource(Patience);
            await process.WaitForExitAsync(patience.Token);
            await stderrDone;
            return new CliRunner.Outcome(process.ExitCode, await stdout, await AllStderrAsync());
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }
    }
}
