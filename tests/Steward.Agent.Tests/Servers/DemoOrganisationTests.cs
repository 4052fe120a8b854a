using Steward.Agent.Servers;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;
using Steward.Core.Admission;
using Steward.Core.Config;

namespace Steward.Agent.Tests.Servers;

/// <summary>
/// What someone trying Steward meets first: a server started on an empty data directory (as <c>steward serve</c> is the
/// first time) seeds the demo organisation, and a developer of it, on a machine whose only runner is npx, adds every
/// server it offers (<c>steward mcp add</c>) and finds each admitted (<c>steward mcp list</c>): none is refused for a
/// missing runner and none is a remote service to reach.
/// </summary>
public sealed class DemoOrganisationTests
{
    private static readonly string[] DemoServers =
    [
        "io.github.modelcontextprotocol/server-everything",
        "io.github.modelcontextprotocol/server-filesystem",
        "io.github.modelcontextprotocol/server-memory",
    ];

    private static LocalFacts Runners(params string[] installed) => new(new HashSet<string>(installed, StringComparer.Ordinal));

    [Fact]
    public async Task On_a_machine_with_only_npx_every_server_of_a_fresh_demo_organisation_is_added_and_admitted()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();
        await LoginAsync(server, config, time);
        var manager = Manager(config, time, Runners("npx"));

        var approved = manager.Approved();
        Assert.Equal(DemoServers, approved.Select(a => a.Name).Order(StringComparer.Ordinal));
        Assert.All(approved, a => Assert.False(a.Remote, $"{a.Name} is a remote"));
        foreach (var offered in approved)
        {
            var added = manager.Add(RequestFor(manager, offered.Name, config));
            Assert.True(added.Succeeded, added.Error);
            Assert.Equal("allowed", added.Status!.Decision);
        }

        var (report, error) = manager.Status();
        Assert.Null(error);
        Assert.Equal(DemoServers, report!.Servers.Select(s => s.Name).Order(StringComparer.Ordinal));
        Assert.All(report.Servers, s => Assert.True(s.Decision == "allowed", $"{s.Name}: {s.Decision} ({s.Reason}) {s.Message}"));

        // npx is what they need: without it, each is refused for that runner.
        var (withoutNpx, _) = Manager(config, time, Runners()).Status();
        Assert.All(withoutNpx!.Servers, s => Assert.True(s.Reason == GatewayReasons.RunnerMissing && s.Message.Contains("npx is not installed", StringComparison.Ordinal),
            $"{s.Name}: {s.Decision} ({s.Reason}) {s.Message}"));
    }

    [Fact]
    public async Task The_registry_examples_an_admin_imports_are_the_ones_such_a_machine_cannot_run()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        using (var admin = server.Client())
        {
            await RegistryExamples.ImportAsync(admin);
        }

        using var config = new TempConfig();
        await LoginAsync(server, config, time);
        var manager = Manager(config, time, Runners("npx"));

        Assert.True(manager.Approved().Single(a => a.Name == RegistryExamples.Notion).Remote);
        foreach (var (name, runner) in new[] { (RegistryExamples.Fetch, "uvx"), (RegistryExamples.GitHub, "docker") })
        {
            var refused = manager.Add(RequestFor(manager, name, config));
            Assert.Contains($"{runner} is not installed", refused.Error, StringComparison.Ordinal);
            Assert.Contains($"[{GatewayReasons.RunnerMissing}]", refused.Error, StringComparison.Ordinal);
        }
    }

    private static async Task LoginAsync(StewardServerHost server, TempConfig config, TimeProvider time)
    {
        var token = await server.DeveloperTokenAsync();
        using var fetcher = new PolicyFetcher();
        var login = await Login.LoginAsync(config.Paths, new LoginRequest(server.BaseUrl, null, token, true, TimeSpan.FromDays(7), config.Workspace),
            fetcher, time, CancellationToken.None);
        Assert.True(login.Succeeded, login.Error);
    }

    private static ServerManager Manager(TempConfig config, TimeProvider time, LocalFacts facts)
    {
        using var sync = new PolicySync(config.Paths, time, environment: _ => null);
        return new ServerManager(config.Paths, config.Workspace, sync.Current, facts);
    }

    /// <summary>An add with a value for every required input (the workspace for a path, a made-up token for a secret).</summary>
    private static AddRequest RequestFor(ServerManager manager, string name, TempConfig config)
    {
        var (target, error) = manager.Resolve(name);
        Assert.True(target is not null, error);
        var inputs = ServerManager.MissingInputs(target, [])
            .Select(m => new KeyValuePair<string, string>(m.Key, m.Secret ? "ghp_example_token" : config.Workspace))
            .ToList();
        return new AddRequest(name, ConfigScope.User, inputs, [], [], []);
    }
}
