using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Steward.Agent.Sandbox;
using Steward.Core.Sandbox;

namespace Steward.Agent.Tests.Sandbox;

/// <summary>The sandbox proxy on its own (no bubblewrap needed): which CONNECT requests it lets through.</summary>
public sealed class SandboxProxyTests
{
    [Theory]
    [InlineData("localhost")]
    [InlineData("LOCALHOST")]
    [InlineData("LocalHost")]
    public async Task Localhost_in_any_case_is_the_loopback_host_its_allowlist_names(string asked)
    {
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var port = ((IPEndPoint)target.LocalEndpoint).Port;
        await using var proxy = SandboxProxy.ListenLoopback([new HostPattern("localhost", port)], "probe", NullLogger.Instance);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT {asked}:{port} HTTP/1.1\r\nHost: {asked}:{port}\r\n\r\n"));
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var read = await stream.ReadAsync(buffer, timeout.Token);

        Assert.StartsWith("HTTP/1.1 200 ", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        Assert.Equal(0, proxy.Refusals);
    }
}
