using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Steward.Server;

namespace Steward.Agent.Tests.Support;

/// <summary>
/// The real Steward server in-process: Kestrel on 127.0.0.1 port 0, SQLite in a fresh temporary data directory, the
/// bootstrap admin token of the demo organisation, and the test's clock.
/// </summary>
internal sealed class StewardServerHost : IAsyncDisposable
{
    public const string AdminToken = "stw_agent-test-admin-token-of-the-demo-organisation";

    private readonly string root;
    private readonly ServeOptions options;
    private StewardServer? server;

    private StewardServerHost(string root, ServeOptions options, StewardServer server)
    {
        this.root = root;
        this.options = options;
        this.server = server;
        BaseUrl = server.BaseUrl.ToString().TrimEnd('/');
    }

    /// <summary>Where the server listens (also while it is stopped: <see cref="StartAgainAsync"/> listens there again).</summary>
    public string BaseUrl { get; }

    /// <param name="port">0: any free port; a fixed port lets the server be stopped and started again at the same address.</param>
    /// <param name="database">A PostgreSQL connection string (null: SQLite in the data directory).</param>
    /// <param name="beside">Another instance on the same PostgreSQL database: this one shares its key encryption key, as a deployment's instances must.</param>
    /// <param name="configure">Options changed from these defaults (a CA file for the server's outbound clients, …).</param>
    public static async Task<StewardServerHost> StartAsync(TimeProvider time, int port = 0, string? database = null, StewardServerHost? beside = null,
        Func<ServeOptions, ServeOptions>? configure = null)
    {
        var root = Directory.CreateTempSubdirectory("steward-agent-server-").FullName;
        if (beside is not null)
        {
            Directory.CreateDirectory(Path.Combine(root, "data"));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Path.Combine(root, "data"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            File.Copy(Path.Combine(beside.options.DataDir, "signing-keys.kek"), Path.Combine(root, "data", "signing-keys.kek"));
        }

        var options = new ServeOptions
        {
            DataDir = Path.Combine(root, "data"),
            Urls = [$"http://127.0.0.1:{port}"],
            Database = database,
            BootstrapAdminToken = beside is null ? AdminToken : null,
            Messages = new StringWriter(),
            LogLevel = LogLevel.Warning,
            TimeProvider = time,
            AllowHttpLoopbackOidc = true,
        };
        options = configure?.Invoke(options) ?? options;
        var server = await StewardServer.StartAsync(options, CancellationToken.None);
        return new StewardServerHost(root, options, server);
    }

    /// <summary>A TCP port nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the stopped server again on the same data directory and address (a server started with a fixed port).</summary>
    public async Task StartAgainAsync()
    {
        Assert.Null(server);
        server = await StewardServer.StartAsync(options with { Urls = [BaseUrl] }, CancellationToken.None);
    }

    /// <summary>
    /// Starts the stopped server on another free port (same data directory), lets <paramref name="change"/> make changes
    /// through it, and stops it again: changes committed while nothing listened at the usual address.
    /// </summary>
    public async Task WhileAwayAsync(Func<StewardServerHost, Task> change)
    {
        Assert.Null(server);
        var elsewhere = await StewardServer.StartAsync(options with { Urls = ["http://127.0.0.1:0"] }, CancellationToken.None);
        var away = new StewardServerHost(root, options, elsewhere);
        try
        {
            await change(away);
        }
        finally
        {
            await away.StopAsync();
        }
    }

    public HttpClient Client(string? token = AdminToken)
    {
        var client = new HttpClient { BaseAddress = new Uri(BaseUrl + "/") };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>A developer token of a new account of the demo organisation, made through the API.</summary>
    public async Task<string> DeveloperTokenAsync(string account = "platform")
    {
        using var admin = Client();
        await SendAsync(admin, HttpMethod.Post, "api/v1/orgs/demo/accounts", $$"""{"slug":"{{account}}","name":"{{account}}"}""", HttpStatusCode.Created);
        var created = await SendAsync(admin, HttpMethod.Post, "api/v1/orgs/demo/tokens", $$"""{"name":"developer","role":"developer","account":"{{account}}"}""", HttpStatusCode.Created);
        return (string)JsonNode.Parse(created)!["token"]!;
    }

    /// <summary>A developer token of a new account, with its id (to revoke it).</summary>
    public async Task<(string Token, string Id)> DeveloperTokenWithIdAsync(string account = "platform")
    {
        using var admin = Client();
        await SendAsync(admin, HttpMethod.Post, "api/v1/orgs/demo/accounts", $$"""{"slug":"{{account}}","name":"{{account}}"}""", HttpStatusCode.Created);
        var created = JsonNode.Parse(await SendAsync(admin, HttpMethod.Post, "api/v1/orgs/demo/tokens", $$"""{"name":"developer","role":"developer","account":"{{account}}"}""", HttpStatusCode.Created))!;
        return ((string)created["token"]!, (string)created["id"]!);
    }

    /// <summary>Revokes a token of the demo organisation (it answers 401 from then on).</summary>
    public async Task RevokeTokenAsync(string id)
    {
        using var admin = Client();
        await SendAsync(admin, HttpMethod.Delete, $"api/v1/orgs/demo/tokens/{id}", "", HttpStatusCode.NoContent);
    }

    /// <summary>Deletes a published version (soft delete: it leaves the bundle).</summary>
    public async Task DeleteVersionAsync(string name, string version)
    {
        using var admin = Client();
        await SendAsync(admin, HttpMethod.Delete, $"api/v1/orgs/demo/registry/servers/{name}/versions/{version}", "", HttpStatusCode.OK);
    }

    /// <summary>A new organisation made through the API by the server administrator: its first admin token.</summary>
    public async Task<string> OrganisationAsync(string slug)
    {
        using var admin = Client();
        var created = await SendAsync(admin, HttpMethod.Post, "api/v1/orgs", $$"""{"slug":"{{slug}}"}""", HttpStatusCode.Created);
        return (string)JsonNode.Parse(created)!["adminToken"]!["token"]!;
    }

    /// <summary>The signed bundle the server gives the holder of <paramref name="token"/> (compact JWS).</summary>
    public async Task<string> BundleAsync(string token)
    {
        using var client = Client(token);
        return (await client.GetStringAsync("api/v1/policy")).Trim();
    }

    public async Task PublishAsync(string name, string version)
    {
        using var admin = Client();
        var serverJson = $$$"""{"$schema":"https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json","name":"{{{name}}}","description":"A test server","version":"{{{version}}}","packages":[{"registryType":"npm","registryBaseUrl":"https://registry.npmjs.org","identifier":"@example/test","version":"{{{version}}}","transport":{"type":"stdio"}}]}""";
        await SendAsync(admin, HttpMethod.Post, "api/v1/orgs/demo/registry/servers", serverJson, HttpStatusCode.Created);
    }

    public async Task PutProfileAsync(string json)
    {
        using var admin = Client();
        await SendAsync(admin, HttpMethod.Put, "api/v1/orgs/demo/profile", json, HttpStatusCode.OK);
    }

    public async Task PutModelPolicyAsync(string json)
    {
        using var admin = Client();
        await SendAsync(admin, HttpMethod.Put, "api/v1/orgs/demo/models/policy", json, HttpStatusCode.OK);
    }

    /// <summary>Rotates the server's signing key: the new key's id.</summary>
    public async Task<string> RotateKeyAsync(int graceSeconds = 30 * 24 * 3600)
    {
        using var admin = Client();
        var answer = await SendAsync(admin, HttpMethod.Post, "api/v1/admin/keys/rotate", $$"""{"graceSeconds":{{graceSeconds}}}""", HttpStatusCode.Created);
        return (string)JsonNode.Parse(answer)!["kid"]!;
    }

    /// <summary>The key ids the server publishes, the active one first.</summary>
    public async Task<IReadOnlyList<string>> PublishedKidsAsync()
    {
        using var anonymous = Client(null);
        var keys = JsonNode.Parse(await anonymous.GetStringAsync("api/v1/policy/keys"))!["keys"]!.AsArray();
        return [.. keys.Select(k => (string)k!["kid"]!)];
    }

    public async Task StopAsync()
    {
        if (server is { } running)
        {
            server = null;
            await running.StopAsync(CancellationToken.None);
            await running.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<string> SendAsync(HttpClient client, HttpMethod method, string path, string json, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {body}");
        return body;
    }
}

/// <summary>
/// A forwarding proxy on 127.0.0.1 in front of a Steward server, as a network path the agent cannot trust: the test
/// can point it at another server, or change the bytes it forwards. It counts the answers it relays.
/// </summary>
internal sealed class PolicyProxy : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly HttpClient upstream = new(new SocketsHttpHandler { AllowAutoRedirect = false });

    private PolicyProxy(WebApplication app, string target)
    {
        this.app = app;
        Target = target;
    }

    /// <summary>The server requests are forwarded to.</summary>
    public string Target { get; set; }

    /// <summary>Applied to every 200 body of <c>/api/v1/policy</c> before it is forwarded.</summary>
    public Func<string, string>? RewriteBundle { get; set; }

    public List<(string Path, int Status)> Answers { get; } = [];

    public string BaseUrl { get; private set; } = "";

    public static async Task<PolicyProxy> StartAsync(string target)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var proxy = new PolicyProxy(app, target);
        app.Map("/{**path}", proxy.ForwardAsync);
        await app.StartAsync();
        proxy.BaseUrl = app.Urls.First().TrimEnd('/');
        return proxy;
    }

    private async Task ForwardAsync(HttpContext context)
    {
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), Target + context.Request.Path + context.Request.QueryString);
        foreach (var name in new[] { "Authorization", "If-None-Match", "Accept" })
        {
            if (context.Request.Headers.TryGetValue(name, out var value))
            {
                request.Headers.TryAddWithoutValidation(name, value.ToString());
            }
        }

        using var response = await upstream.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        lock (Answers)
        {
            Answers.Add((context.Request.Path.Value ?? "", (int)response.StatusCode));
        }

        if (context.Request.Path == "/api/v1/policy" && response.StatusCode == HttpStatusCode.OK && RewriteBundle is { } rewrite)
        {
            body = rewrite(body);
        }

        context.Response.StatusCode = (int)response.StatusCode;
        if (response.Headers.ETag is { } etag)
        {
            context.Response.Headers.ETag = etag.ToString();
        }

        if (response.Content.Headers.ContentType is { } type)
        {
            context.Response.ContentType = type.ToString();
        }

        if (response.StatusCode != HttpStatusCode.NotModified)
        {
            await context.Response.WriteAsync(body);
        }
    }

    public async ValueTask DisposeAsync()
    {
        upstream.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
