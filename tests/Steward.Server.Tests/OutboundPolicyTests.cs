using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Steward.Server.Hosting;
using Steward.Server.Tests.Oidc;

namespace Steward.Server.Tests;

/// <summary>
/// Where the server's outbound requests may go, by who gave the URL: an organisation admin who is not a server
/// administrator reaches no loopback or private address outside the server's allow list, and every refusal, failed
/// connection and failed TLS handshake reads the same. Names resolve through the test's resolver, so nothing here
/// connects anywhere but 127.0.0.1.
/// </summary>
public sealed class OutboundPolicyTests
{
    private const string NoAnswer = "the connection failed or was refused (connect, TLS or address policy)";

    private static Func<ServeOptions, ServeOptions> Resolving(string address, List<string>? asked = null) => o => o with
    {
        Resolve = (host, _) =>
        {
            if (asked is not null)
            {
                lock (asked)
                {
                    asked.Add(host);
                }
            }

            return Task.FromResult(new[] { IPAddress.Parse(address) });
        },
    };

    /// <summary>A loopback port nothing listens on.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task<(HttpStatusCode Status, string Detail)> ImportAsync(TestServer server, string token, string org, string url)
    {
        using var admin = server.Client(token);
        using var response = await admin.PostAsync($"/api/v1/orgs/{org}/registry/import", TestServer.Json(new JsonObject { ["url"] = url }.ToJsonString()));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text)!["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.9")]
    [InlineData("192.168.0.5")]
    [InlineData("100.64.0.1")]
    [InlineData("198.18.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("fd12:3456::1")]
    [InlineData("::1")]
    [InlineData("64:ff9b::a01:203")]
    public async Task An_organisation_admin_import_from_a_name_that_resolves_to_a_loopback_or_private_address_is_refused_with_the_one_message(string address)
    {
        var asked = new List<string>();
        await using var server = await TestServer.StartAsync(Resolving(address, asked));
        var (admin, _) = await server.AddOrganisationAsync("acme");
        var port = ClosedPort();

        var (status, detail) = await ImportAsync(server, admin, "acme", $"https://localhost:{port}/");

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal($"could not fetch https://localhost:{port}/v0.1/servers: {NoAnswer}; nothing was imported", detail);
        Assert.Contains("localhost", asked);
    }

    [Fact]
    public async Task A_refused_address_a_closed_port_and_a_port_that_does_not_speak_tls_read_the_same_to_an_organisation_admin()
    {
        using var plain = new TcpListener(IPAddress.Loopback, 0);
        plain.Start();
        var plainPort = ((IPEndPoint)plain.LocalEndpoint).Port;
        var serving = Task.Run(async () =>
        {
            using var socket = await plain.AcceptSocketAsync();
            await socket.SendAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.6\r\n"));
            socket.Shutdown(SocketShutdown.Both);
        });
        await using var server = await TestServer.StartAsync(o => o with { OutboundAllowPrivate = "127.0.0.1/32" });
        var (admin, _) = await server.AddOrganisationAsync("acme");
        var closedPort = ClosedPort();

        var closed = await ImportAsync(server, admin, "acme", $"https://127.0.0.1:{closedPort}/");
        var notTls = await ImportAsync(server, admin, "acme", $"https://127.0.0.1:{plainPort}/");
        var refused = await ImportAsync(server, admin, "acme", $"https://[::1]:{closedPort}/");
        await serving;

        Assert.Equal((HttpStatusCode.BadGateway, $"could not fetch https://127.0.0.1:{closedPort}/v0.1/servers: {NoAnswer}; nothing was imported"), closed);
        Assert.Equal((HttpStatusCode.BadGateway, $"could not fetch https://127.0.0.1:{plainPort}/v0.1/servers: {NoAnswer}; nothing was imported"), notTls);
        Assert.Equal((HttpStatusCode.BadGateway, $"could not fetch https://[::1]:{closedPort}/v0.1/servers: {NoAnswer}; nothing was imported"), refused);
    }

    [Fact]
    public async Task A_registry_that_answers_keeps_its_status_in_the_message()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serving = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await socket.ReceiveAsync(new byte[8192]);
            await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        });
        // The test option lets every organisation import over plain http from loopback.
        await using var server = await TestServer.StartAsync(o => o with { AllowHttpLoopbackImport = true });
        var (admin, _) = await server.AddOrganisationAsync("acme");

        var (status, detail) = await ImportAsync(server, admin, "acme", $"http://127.0.0.1:{port}/");
        await serving;

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Contains($"http://127.0.0.1:{port}/v0.1/servers?limit=100&include_deleted=true answered 404 Not Found", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_administrators_may_reach_private_addresses_but_not_link_local_ones_and_the_allow_list_lifts_only_its_entries()
    {
        var options = TestServer.Options("/nonexistent", null, TextWriter.Null) with
        {
            Resolve = (host, _) => Task.FromResult(new[] { IPAddress.Parse(host == "metadata.example.test" ? "169.254.169.254" : host == "allowed.example.test" ? "192.168.4.4" : "10.9.8.7") }),
        };
        var outbound = new ServerOutbound(options, Core.Net.OutboundAllowList.Parse("registry.internal,192.168.4.0/24", out _)!);

        Assert.Single(await outbound.Policy(serverAdministrator: true, "imports").AllowedAddressesAsync("registry.example.test", CancellationToken.None));
        await Assert.ThrowsAsync<Core.Net.OutboundRefusedException>(() => outbound.Policy(serverAdministrator: true, "imports").AllowedAddressesAsync("metadata.example.test", CancellationToken.None));
        await Assert.ThrowsAsync<Core.Net.OutboundRefusedException>(() => outbound.Policy(serverAdministrator: false, "imports").AllowedAddressesAsync("registry.example.test", CancellationToken.None));
        Assert.Single(await outbound.Policy(serverAdministrator: false, "imports").AllowedAddressesAsync("registry.internal", CancellationToken.None));
        Assert.Single(await outbound.Policy(serverAdministrator: false, "imports").AllowedAddressesAsync("allowed.example.test", CancellationToken.None));
        await Assert.ThrowsAsync<Core.Net.OutboundRefusedException>(() => outbound.Policy(serverAdministrator: false, "imports").AllowedAddressesAsync("metadata.example.test", CancellationToken.None));
    }

    [Fact]
    public async Task A_bad_allow_list_stops_the_server_naming_the_variable_and_the_entry()
    {
        var root = Directory.CreateTempSubdirectory("steward-server-test-").FullName;
        try
        {
            var e = await Assert.ThrowsAsync<ServeException>(() => StewardServer.StartAsync(
                TestServer.Options(Path.Combine(root, "data"), null, TextWriter.Null) with { OutboundAllowPrivate = "10.0.0.0/8,10.1.0.5/16" }, CancellationToken.None));
            Assert.Equal(ServeOptions.OutboundAllowPrivateVariable, e.Option);
            Assert.Contains("\"10.1.0.5/16\"", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("127.0.0.1")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    public async Task An_organisation_admin_cannot_set_an_oidc_issuer_that_resolves_to_a_refused_address(string address)
    {
        var asked = new List<string>();
        await using var server = await TestServer.StartAsync(Resolving(address, asked));
        var (admin, _) = await server.AddOrganisationAsync("acme");
        var port = ClosedPort();
        using var client = server.Client(admin);

        using var put = await client.PutAsync("/api/v1/orgs/acme/oidc", TestServer.Json($$"""{"issuer": "https://localhost:{{port}}", "clientId": "steward"}"""));
        var text = await put.Content.ReadAsStringAsync();

        Assert.True(put.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        Assert.Contains($"could not fetch the discovery document or the keys of https://localhost:{port}: {NoAnswer}", text, StringComparison.Ordinal);
        Assert.DoesNotContain(address, text, StringComparison.Ordinal);
        Assert.Contains("localhost", asked);
        using var view = await client.GetAsync("/api/v1/orgs/acme/oidc");
        Assert.Equal(HttpStatusCode.NotFound, view.StatusCode);
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("10.0.0.7")]
    public async Task The_keys_an_issuer_names_are_not_fetched_from_a_refused_address(string address)
    {
        await using var issuer = await LocalIssuer.StartAsync();
        // The discovery document is on 127.0.0.1 (the test option lets any organisation use a loopback issuer); its jwks_uri names "localhost", which the server resolves to the refused address.
        issuer.JwksUri = issuer.Issuer.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/jwks";
        await using var server = await TestServer.StartAsync(o => Resolving(address)(o) with { AllowHttpLoopbackOidc = true });
        var (admin, _) = await server.AddOrganisationAsync("acme");
        using var client = server.Client(admin);

        using var put = await client.PutAsync("/api/v1/orgs/acme/oidc", TestServer.Json($$"""{"issuer": "{{issuer.Issuer}}", "clientId": "{{LocalIssuer.ClientId}}"}"""));
        var text = await put.Content.ReadAsStringAsync();

        Assert.True(put.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        Assert.Contains(NoAnswer, text, StringComparison.Ordinal);
        Assert.Equal(0, issuer.JwksRequests);
    }

    [Theory]
    [InlineData("https://169.254.169.254/")]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/")]
    [InlineData("https://100.100.100.200/")]
    [InlineData("https://[fd20:ce::254]/")]
    public async Task An_oidc_issuer_at_a_literal_link_local_or_metadata_address_is_refused_before_any_request(string issuer)
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        using var put = await admin.PutAsync("/api/v1/orgs/demo/oidc", TestServer.Json($$"""{"issuer": "{{issuer}}", "clientId": "steward"}"""));
        var text = await put.Content.ReadAsStringAsync();
        Assert.True(put.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        Assert.Contains("link-local or cloud metadata address", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/")]
    [InlineData("https://100.100.100.200/")]
    [InlineData("https://[fd20:ce::254]/")]
    [InlineData("https://[2002:a9fe:a9fe::1]/")]
    public async Task An_import_from_a_new_form_of_a_metadata_address_is_refused_before_any_request(string url)
    {
        await using var server = await TestServer.StartAsync();
        var (status, detail) = await ImportAsync(server, TestServer.AdminToken, "demo", url);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("link-local or cloud metadata address", detail, StringComparison.Ordinal);
    }
}
