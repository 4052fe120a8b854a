using System.Net;
using System.Net.Sockets;
using System.Text;
using Steward.Core.Net;

namespace Steward.Core.Tests.Hardening;

public class OutboundAddressPolicyTests
{
    private static OutboundAddressPolicy Resolving(string address, bool allow = false) => new()
    {
        AllowLinkLocal = allow,
        Purpose = "tests",
        Resolve = (_, _) => Task.FromResult(new[] { IPAddress.Parse(address) }),
    };

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("https://169.254.10.1/")]
    [InlineData("https://[fe80::1]/")]
    [InlineData("https://[fd00:ec2::254]/")]
    [InlineData("https://[::ffff:169.254.169.254]/")]
    [InlineData("https://metadata.google.internal/computeMetadata/v1/")]
    public void A_literal_link_local_or_metadata_address_is_refused_before_any_request(string url)
    {
        Assert.NotNull(OutboundAddressPolicy.Default.Refusal(new Uri(url)));
        Assert.Null(new OutboundAddressPolicy { AllowLinkLocal = true }.Refusal(new Uri(url)));
    }

    [Theory]
    [InlineData("https://registry.example.com/")]
    [InlineData("http://127.0.0.1:8080/")]
    [InlineData("https://10.0.0.1/")]
    public void Other_addresses_pass(string url) => Assert.Null(OutboundAddressPolicy.Default.Refusal(new Uri(url)));

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("fe80::1")]
    [InlineData("fd00:ec2::254")]
    public async Task A_name_that_resolves_to_a_refused_address_is_refused_when_connecting(string address)
    {
        using var client = new HttpClient(Resolving(address).CreateHandler());

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("http://innocent.example.test/"));

        var refused = Assert.IsType<OutboundRefusedException>(e.InnerException);
        Assert.Contains($"innocent.example.test resolves to {IPAddress.Parse(address)}, a link-local or cloud metadata address; tests may not reach it", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_connection_goes_to_the_very_address_that_was_checked_and_an_administrator_may_allow_link_local()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var buffer = new byte[4096];
            await socket.ReceiveAsync(buffer);
            await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
        });
        using var client = new HttpClient(Resolving("127.0.0.1").CreateHandler());

        Assert.Equal("ok", await client.GetStringAsync($"http://registry.example.test:{port}/"));
        await serve;
        Assert.Single(await Resolving("169.254.169.254", allow: true).AllowedAddressesAsync("metadata.example.test", CancellationToken.None));
    }

    [Fact]
    public async Task Loopback_only_refuses_any_other_address()
    {
        var policy = new OutboundAddressPolicy { LoopbackOnly = true, Resolve = (_, _) => Task.FromResult(new[] { IPAddress.Parse("127.0.0.1"), IPAddress.Parse("10.0.0.1") }) };

        var e = await Assert.ThrowsAsync<OutboundRefusedException>(() => policy.AllowedAddressesAsync("mixed.example.test", CancellationToken.None));

        Assert.Contains("not loopback", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_agent_policy_allows_link_local_only_when_the_variable_says_so()
    {
        Assert.False(OutboundAddressPolicy.FromEnvironment(_ => null).AllowLinkLocal);
        Assert.True(OutboundAddressPolicy.FromEnvironment(n => n == OutboundAddressPolicy.AllowVariable ? "1" : null).AllowLinkLocal);
    }
}
