using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// An HTTP proxy for one remote name: it answers <c>CONNECT &lt;name&gt;:443</c>, ends the tunnel's TLS itself with a
/// certificate for that name (from a test CA), and passes the bytes inside on to a plain HTTP server on 127.0.0.1. So a
/// process given <c>HTTPS_PROXY=http://127.0.0.1:&lt;port&gt;</c> and the CA reaches <c>https://&lt;name&gt;/…</c> on
/// this machine, as it would a remote server behind a corporate proxy, with no DNS entry and no root access. Only the
/// tunnel's bytes are passed on, unchanged; any other request, or a CONNECT to another name, gets 403.
/// </summary>
internal sealed class TlsConnectProxy : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private readonly string name;
    private readonly X509Certificate2 certificate;
    private readonly int targetPort;
    private readonly Task accepting;
    private int tunnels;

    private TlsConnectProxy(string name, X509Certificate2 certificate, int targetPort)
    {
        this.name = name;
        this.certificate = certificate;
        this.targetPort = targetPort;
        listener.Start();
        accepting = AcceptAsync();
    }

    /// <summary>The value for <c>HTTPS_PROXY</c>.</summary>
    public string ProxyUrl => $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";

    /// <summary>How many tunnels to the name were opened (the proof that the client went through the proxy).</summary>
    public int Tunnels => Volatile.Read(ref tunnels);

    public static TlsConnectProxy Start(string name, X509Certificate2 certificate, int targetPort) => new(name, certificate, targetPort);

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => TunnelAsync(client));
        }
    }

    private async Task TunnelAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var head = await ReadHeadAsync(stream);
            var requestLine = head.Split("\r\n", 2)[0].Split(' ');
            if (requestLine.Length < 2 || requestLine[0] != "CONNECT" || !string.Equals(requestLine[1], name + ":443", StringComparison.OrdinalIgnoreCase))
            {
                await stream.WriteAsync("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), stop.Token);
                return;
            }

            await stream.WriteAsync("HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray(), stop.Token);
            Interlocked.Increment(ref tunnels);
            await using var tls = new SslStream(stream, leaveInnerStreamOpen: false);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, stop.Token);
            using var target = new TcpClient();
            await target.ConnectAsync(IPAddress.Loopback, targetPort, stop.Token);
            var plain = target.GetStream();
            var up = PumpAsync(tls, plain);
            var down = PumpAsync(plain, tls);
            await Task.WhenAny(up, down);
            // One side ended: end the other, and wait for its pump to see it.
            target.Dispose();
            await tls.DisposeAsync();
            await Task.WhenAll(up, down).ContinueWith(t => t.Exception, TaskScheduler.Default);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            // A tunnel the client or the server closed, or the proxy stopping.
        }
    }

    private async Task PumpAsync(Stream from, Stream to)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await from.ReadAsync(buffer, stop.Token)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, read), stop.Token);
            await to.FlushAsync(stop.Token);
        }
    }

    /// <summary>The request head, up to the blank line, read a byte at a time so that nothing after it is consumed.</summary>
    private async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, stop.Token) == 0 || head.Length > 8192)
            {
                throw new IOException("the request head ended early or is too long");
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        await accepting;
        stop.Dispose();
    }
}
