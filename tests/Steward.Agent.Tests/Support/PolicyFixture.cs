using Steward.Agent.Servers;
using Steward.Agent.Sources;
using Steward.Agent.Sync;

namespace Steward.Agent.Tests.Support;

/// <summary>A configuration directory logged in to a local registry file that declares inputs, secrets, arguments and versions.</summary>
internal sealed class PolicyFixture : IDisposable
{
    public const string Registry = """
        {"servers": [
          {"server": {"name": "io.acme/weather", "title": "Weather", "description": "Forecasts", "version": "1.2.0",
            "packages": [{"registryType": "npm", "identifier": "@acme/weather", "version": "1.2.0", "transport": {"type": "stdio"},
              "environmentVariables": [
                {"name": "WEATHER_API_KEY", "description": "API key", "isRequired": true, "isSecret": true},
                {"name": "UNITS", "description": "metric or imperial", "isRequired": true}]}]}},
          {"server": {"name": "io.acme/files", "description": "Files under a root", "version": "2.0.0",
            "packages": [{"registryType": "npm", "identifier": "@acme/files", "version": "2.0.0", "transport": {"type": "stdio"},
              "packageArguments": [{"type": "positional", "valueHint": "root_dir", "isRequired": true}]}]}},
          {"server": {"name": "io.acme/remote", "description": "A remote", "version": "1.0.0",
            "remotes": [{"type": "streamable-http", "url": "https://mcp.acme.com/mcp",
              "headers": [{"name": "Authorization", "isRequired": true, "isSecret": true}]}]}},
          {"server": {"name": "io.acme/old", "description": "Versioned", "version": "1.0.0",
            "packages": [{"registryType": "npm", "identifier": "@acme/old", "version": "1.0.0", "transport": {"type": "stdio"}}]}},
          {"server": {"name": "io.acme/old", "description": "Versioned", "version": "1.1.0",
            "packages": [{"registryType": "npm", "identifier": "@acme/old", "version": "1.1.0", "transport": {"type": "stdio"}}]}}
        ]}
        """;

    public TempConfig Config { get; } = new();

    /// <summary>Starts at the real time, so that a real <c>steward</c> process sees the cached policy as fresh.</summary>
    public ManualTime Time { get; } = new(DateTimeOffset.UtcNow);

    public static async Task<PolicyFixture> CreateAsync()
    {
        var fixture = new PolicyFixture();
        var path = fixture.Config.Write("registry.json", Registry);
        using var fetcher = new PolicyFetcher();
        var login = await Login.LoginAsync(fixture.Config.Paths, new LoginRequest(null, path, null, false, TimeSpan.FromDays(7), fixture.Config.Workspace),
            fetcher, fixture.Time, CancellationToken.None);
        Assert.True(login.Succeeded, login.Error);
        return fixture;
    }

    public ServerManager Manager()
    {
        using var sync = new PolicySync(Config.Paths, Time);
        return new ServerManager(Config.Paths, Config.Workspace, sync.Current);
    }

    public string UserMcpJson => File.ReadAllText(Config.Paths.UserMcpConfig);

    public void Dispose() => Config.Dispose();
}
