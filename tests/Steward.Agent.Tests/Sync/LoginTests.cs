using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;

namespace Steward.Agent.Tests.Sync;

public class LoginTests
{
    private static readonly ManualTime Time = new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    private static async Task<LoginResult> LoginAsync(TempConfig config, string? server = null, string? registry = null, string? token = null, bool allowHttp = true)
    {
        using var fetcher = new PolicyFetcher();
        return await Login.LoginAsync(config.Paths, new LoginRequest(server, registry, token, allowHttp, TimeSpan.FromDays(7), config.Workspace), fetcher, Time, CancellationToken.None);
    }

    private static PolicySnapshot ActiveSnapshot(TempConfig config)
    {
        using var sync = new PolicySync(config.Paths, Time);
        return sync.Current is PolicyState.Active active ? active.Snapshot : throw new Xunit.Sdk.XunitException(((PolicyState.Disabled)sync.Current).Reason);
    }

    [Fact]
    public async Task Login_to_a_Kiro_registry_file_detects_the_file_and_caches_its_servers()
    {
        await using var host = await RegistryHost.StartAsync();
        using var config = new TempConfig();

        var result = await LoginAsync(config, registry: host.BaseUrl + "/kiro.json");

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("registry-file", result.Kind);
        Assert.Equal(2, result.Servers);
        Assert.Equal(["my-remote-server", "my-local-server"], ActiveSnapshot(config).Registry.Select(e => e.Server.Name));
    }

    [Fact]
    public async Task Login_to_an_official_registry_base_url_reads_every_page_following_next_cursor()
    {
        await using var host = await RegistryHost.StartAsync();
        host.ApiItems = RegistryHost.SnapshotItems(250);
        using var config = new TempConfig();

        var result = await LoginAsync(config, registry: host.BaseUrl);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("registry-api", result.Kind);
        Assert.Equal(250, ActiveSnapshot(config).Registry.Count);
        Assert.Contains("?limit=100&cursor=200", host.ApiRequests);
    }

    [Fact]
    public async Task Login_accepts_a_url_that_already_ends_with_v0_1_servers_and_stores_the_base()
    {
        await using var host = await RegistryHost.StartAsync();
        host.ApiItems = RegistryHost.SnapshotItems(3);
        using var config = new TempConfig();

        var result = await LoginAsync(config, registry: host.BaseUrl + "/v0.1/servers");

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(host.BaseUrl, SourceStore.Load(config.Paths).Source!.Location);
        Assert.Equal(SourceKind.RegistryApi, SourceStore.Load(config.Paths).Source!.Kind);
    }

    [Fact]
    public async Task Login_to_a_local_file_needs_no_network()
    {
        using var config = new TempConfig();
        var path = config.Write("registry.json", File.ReadAllText(FixturePaths.Kiro));

        var result = await LoginAsync(config, registry: path, allowHttp: false);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("local-file", result.Kind);
        Assert.Equal(2, ActiveSnapshot(config).Registry.Count);
    }

    [Fact]
    public async Task Plain_http_is_refused_without_allow_http()
    {
        await using var host = await RegistryHost.StartAsync();
        using var config = new TempConfig();

        var result = await LoginAsync(config, registry: host.BaseUrl + "/kiro.json", allowHttp: false);

        Assert.Contains("plain http", result.Error);
        Assert.Contains("--allow-http", result.Error);
        Assert.Equal(0, host.KiroRequests);
    }

    [Theory]
    [InlineData("http://registry.example.com/kiro.json")]
    [InlineData("http://10.0.0.5/kiro.json")]
    public async Task Allow_http_is_refused_for_a_host_that_is_not_loopback(string url)
    {
        using var config = new TempConfig();

        var result = await LoginAsync(config, registry: url, allowHttp: true);

        Assert.Contains("only for loopback addresses", result.Error);
    }

    [Fact]
    public async Task A_malformed_registry_at_login_leaves_the_previous_login_in_place()
    {
        await using var host = await RegistryHost.StartAsync();
        using var config = new TempConfig();
        Assert.True((await LoginAsync(config, registry: host.BaseUrl + "/kiro.json")).Succeeded);
        var before = File.ReadAllBytes(config.Paths.SourceFile);
        var bad = config.Write("bad.json", """{"servers":[{"server":{"name":"x y","version":"1"}}]}""");

        var result = await LoginAsync(config, registry: bad);

        Assert.Contains("is not valid", result.Error);
        Assert.Equal(before, File.ReadAllBytes(config.Paths.SourceFile));
        Assert.Equal(2, ActiveSnapshot(config).Registry.Count);
    }
}
