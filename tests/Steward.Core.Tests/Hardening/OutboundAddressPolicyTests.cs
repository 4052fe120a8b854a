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

    [Theory]
    [InlineData("169.254.169.254", true)]
    [InlineData("100.100.100.200", true)]
    [InlineData("fd20:ce::254", true)]
    [InlineData("fd00:ec2::254", true)]
    [InlineData("64:ff9b::a9fe:a9fe", true)]
    [InlineData("64:ff9b::169.254.10.1", true)]
    [InlineData("64:ff9b::6464:64c8", true)]
    [InlineData("2002:a9fe:a9fe::1", true)]
    [InlineData("::ffff:100.100.100.200", true)]
    [InlineData("100.100.100.201", false)]
    [InlineData("fd20:ce::253", false)]
    [InlineData("64:ff9b::808:808", false)]
    [InlineData("64:ff9b:0:1::a9fe:a9fe", false)]
    [InlineData("2002:808:808::1", false)]
    [InlineData("10.0.0.1", false)]
    public void Link_local_and_metadata_addresses_are_recognised_in_every_form(string address, bool refused) =>
        Assert.Equal(refused, OutboundAddressPolicy.IsLinkLocalOrMetadata(IPAddress.Parse(address)));

    [Theory]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/")]
    [InlineData("https://100.100.100.200/latest/meta-data/")]
    [InlineData("https://[fd20:ce::254]/")]
    [InlineData("https://[2002:a9fe:a9fe::]/")]
    public void The_new_metadata_forms_are_refused_before_any_request(string url) => Assert.NotNull(OutboundAddressPolicy.Default.Refusal(new Uri(url)));

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.1.2.3", true)]
    [InlineData("::1", true)]
    [InlineData("10.20.30.40", true)]
    [InlineData("172.16.0.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("192.168.1.1", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("100.127.255.255", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("::", true)]
    [InlineData("224.0.0.1", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("198.18.0.1", true)]
    [InlineData("198.19.255.255", true)]
    [InlineData("fc00::1", true)]
    [InlineData("fd12:3456::1", true)]
    [InlineData("ff02::1", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("64:ff9b::7f00:1", true)]
    [InlineData("64:ff9b::a00:1", true)]
    [InlineData("2002:c0a8:101::1", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("100.128.0.1", false)]
    [InlineData("198.20.0.1", false)]
    [InlineData("8.8.8.8", false)]
    [InlineData("2606:4700::1111", false)]
    [InlineData("64:ff9b::808:808", false)]
    public void Loopback_and_private_addresses_are_recognised_in_every_form(string address, bool @private) =>
        Assert.Equal(@private, OutboundAddressPolicy.IsLoopbackOrPrivate(IPAddress.Parse(address)));

    private static OutboundAddressPolicy RefusingPrivate(string address, string? allow = null, bool loopback = false) => new()
    {
        RefusePrivate = true,
        AllowLoopback = loopback,
        AllowPrivate = OutboundAllowList.Parse(allow, out _)!,
        Purpose = "imports",
        Resolve = (_, _) => Task.FromResult(new[] { IPAddress.Parse(address) }),
    };

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("192.168.0.10")]
    [InlineData("64:ff9b::a01:203")]
    [InlineData("fd12::1")]
    public async Task A_policy_refusing_private_addresses_refuses_a_name_that_resolves_to_one(string address)
    {
        var e = await Assert.ThrowsAsync<OutboundRefusedException>(() => RefusingPrivate(address).AllowedAddressesAsync("registry.example.test", CancellationToken.None));

        Assert.Contains("a loopback or private address; imports may not reach it", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_allow_list_lets_its_ranges_and_hosts_through_but_never_link_local()
    {
        Assert.Single(await RefusingPrivate("10.1.2.3", "10.1.0.0/16").AllowedAddressesAsync("registry.example.test", CancellationToken.None));
        Assert.Single(await RefusingPrivate("192.168.7.7", "10.1.0.0/16, registry.internal").AllowedAddressesAsync("Registry.Internal.", CancellationToken.None));
        Assert.Single(await RefusingPrivate("127.0.0.1", loopback: true).AllowedAddressesAsync("localhost", CancellationToken.None));
        await Assert.ThrowsAsync<OutboundRefusedException>(() => RefusingPrivate("10.2.0.1", "10.1.0.0/16,registry.internal").AllowedAddressesAsync("registry.example.test", CancellationToken.None));
        await Assert.ThrowsAsync<OutboundRefusedException>(() => RefusingPrivate("10.2.0.1", loopback: true).AllowedAddressesAsync("registry.example.test", CancellationToken.None));
        var linkLocal = await Assert.ThrowsAsync<OutboundRefusedException>(() => RefusingPrivate("169.254.169.254", "0.0.0.0/0,registry.internal").AllowedAddressesAsync("registry.internal", CancellationToken.None));
        Assert.Contains("link-local or cloud metadata", linkLocal.Message, StringComparison.Ordinal);
        Assert.Single(await Resolving("10.1.2.3").AllowedAddressesAsync("registry.example.test", CancellationToken.None));
    }

    [Theory]
    [InlineData("10.1.0.5/16")]
    [InlineData("10.1.0.0/33")]
    [InlineData("*.internal")]
    [InlineData("registry internal")]
    public void An_allow_list_entry_that_is_not_a_range_an_address_or_a_host_is_named(string entry)
    {
        Assert.Null(OutboundAllowList.Parse("10.0.0.0/8," + entry, out var error));
        Assert.Contains($"\"{entry}\"", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_allow_list_reads_ranges_addresses_and_hosts()
    {
        var list = OutboundAllowList.Parse(" 10.1.0.0/16 ,192.168.1.20, [fd12::1], registry.internal.", out var error)!;
        Assert.Null(error);
        Assert.Equal(["registry.internal"], list.Hosts);
        Assert.Equal(3, list.Networks.Count);
        Assert.True(list.Allows("x", IPAddress.Parse("::ffff:192.168.1.20")));
        Assert.False(list.Allows("x", IPAddress.Parse("192.168.1.21")));
        Assert.True(OutboundAllowList.Parse("", out _)!.IsEmpty);
    }
}
