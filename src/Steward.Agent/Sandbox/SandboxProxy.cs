using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Steward.Core.Net;
using Steward.Core.Sandbox;

namespace Steward.Agent.Sandbox;

/// <summary>
/// The filtering proxy of one sandboxed server: HTTP <c>CONNECT host:port</c> (any TCP protocol, TLS included) and
/// plain-HTTP forwarding (<c>GET http://host/…</c>), each admitted only when the host and port the server asked for match
/// its allowlist. It listens on a unix socket (bound into the sandbox, where <see cref="SandboxBridge"/> exposes it on the
/// sandbox's loopback) or on a loopback TCP port (macOS). DNS names are matched as asked, then resolved here, outside
/// the sandbox; an IP literal matches only an IP pattern. One connection carries one target: bytes after the first
/// request go to the host it named, so a second request on it cannot reach another host.
/// </summary>
public sealed partial class SandboxProxy : IAsyncDisposable
{
    private const int MaxHeaderBytes = 16 * 1024;
    private readonly Socket listener;
    private readonly ImmutableArray<HostPattern> allow;
    private readonly ILogger logger;
    private readonly string server;
    private readonly CancellationTokenSource stop = new();
    private readonly Task accepting;
    private readonly string? socketPath;

    private SandboxProxy(Socket listener, ImmutableArray<HostPattern> allow, string server, ILogger logger, string? socketPath)
    {
        this.listener = listener;
        this.allow = allow;
        this.server = server;
        this.logger = logger;
        this.socketPath = socketPath;
        accepting = Task.Run(AcceptAsync);
    }

    /// <summary>The unix socket it listens on, or null for TCP.</summary>
    public string? SocketPath => socketPath;

    /// <summary>The loopback TCP port it listens on, or 0 for a unix socket.</summary>
    public int Port => listener.LocalEndPoint is IPEndPoint ip ? ip.Port : 0;

    /// <summary>Refused connections so far (the log says which host and port).</summary>
    public int Refusals => refusals;

    private int refusals;

    /// <summary>Listens on a new unix socket at <paramref name="socketPath"/> (in a 0700 directory the caller made).</summary>
    public static SandboxProxy ListenUnix(string socketPath, ImmutableArray<HostPattern> allow, string server, ILogger logger)
    {
        File.Delete(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        socket.Listen(64);
        return new SandboxProxy(socket, allow, server, logger, socketPath);
    }

    /// <summary>Listens on a free port of 127.0.0.1.</summary>
    public static SandboxProxy ListenLoopback(ImmutableArray<HostPattern> allow, string server, ILogger logger)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(64);
        return new SandboxProxy(socket, allow, server, logger, null);
    }

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var owned = client;
        await using var stream = new NetworkStream(client, ownsSocket: false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var (head, rest) = await ReadHeadAsync(stream, timeout.Token).ConfigureAwait(false);
            if (head is null)
            {
                await ReplyAsync(stream, 400, "Bad Request", "steward sandbox proxy: expected an HTTP request").ConfigureAwait(false);
                return;
            }

            var lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
            var requestLine = lineEnd < 0 ? head : head[..lineEnd];
            var parts = requestLine.Split(' ');
            if (parts.Length != 3)
            {
                await ReplyAsync(stream, 400, "Bad Request", "steward sandbox proxy: malformed request line").ConfigureAwait(false);
                return;
            }

            string host;
            int port;
            byte[]? forward = null;
            if (parts[0] == "CONNECT")
            {
                if (!SplitAuthority(parts[1], 443, out host, out port))
                {
                    await ReplyAsync(stream, 400, "Bad Request", "steward sandbox proxy: CONNECT needs host:port").ConfigureAwait(false);
                    return;
                }
            }
            else if (Uri.TryCreate(parts[1], UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp)
            {
                host = uri.Host;
                port = uri.Port;
                // The origin server gets the origin form of the request line; headers and body are passed as they came.
                forward = Encoding.ASCII.GetBytes($"{parts[0]} {uri.PathAndQuery} {parts[2]}{head[requestLine.Length..]}");
            }
            else
            {
                await ReplyAsync(stream, 400, "Bad Request", "steward sandbox proxy: only CONNECT and absolute http:// requests are proxied").ConfigureAwait(false);
                return;
            }

            if (!allow.Any(p => p.Matches(host, port)))
            {
                Interlocked.Increment(ref refusals);
                SandboxLog.ProxyRefused(logger, server, host, port);
                await ReplyAsync(stream, 403, "Forbidden", $"steward sandbox: {host}:{port.ToString(CultureInfo.InvariantCulture)} is not in this server's network allowlist").ConfigureAwait(false);
                return;
            }

            // The name is resolved here, outside the sandbox. A name that resolves to this machine or a link-local
            // address (DNS rebinding onto local services or cloud metadata) is admitted only by an IP pattern for it.
            IPAddress[] addresses;
            try
            {
                addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
                    ? [literal]
                    : await Dns.GetHostAddressesAsync(host, timeout.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                await ReplyAsync(stream, 502, "Bad Gateway", $"steward sandbox proxy: {host} does not resolve").ConfigureAwait(false);
                return;
            }

            if (!IPAddress.TryParse(host.Trim('[', ']'), out _) && !UrlRules.IsLoopbackHost(host))
            {
                addresses = [.. addresses.Where(a => !IsLocal(a) || allow.Any(p => p.Matches(a.ToString(), port)))];
                if (addresses.Length == 0)
                {
                    Interlocked.Increment(ref refusals);
                    SandboxLog.ProxyRefused(logger, server, host, port);
                    await ReplyAsync(stream, 403, "Forbidden", $"steward sandbox: {host} resolves to a local address that the allowlist does not name").ConfigureAwait(false);
                    return;
                }
            }

            using var upstream = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await upstream.ConnectAsync(addresses, port, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                await ReplyAsync(stream, 502, "Bad Gateway", $"steward sandbox proxy: cannot connect to {host}:{port.ToString(CultureInfo.InvariantCulture)}").ConfigureAwait(false);
                return;
            }

            await using var target = new NetworkStream(upstream, ownsSocket: false);
            if (forward is null)
            {
                await stream.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray(), stop.Token).ConfigureAwait(false);
            }
            else
            {
                await target.WriteAsync(forward, stop.Token).ConfigureAwait(false);
            }

            if (rest.Length > 0)
            {
                await target.WriteAsync(rest, stop.Token).ConfigureAwait(false);
            }

            await PipeAsync(stream, target, client, upstream, stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The server or the target closed the connection; nothing to report.
        }
    }

    /// <summary>Copies both ways until either side closes, passing each half-close on.</summary>
    internal static async Task PipeAsync(Stream a, Stream b, Socket aSocket, Socket bSocket, CancellationToken cancellationToken)
    {
        async Task CopyAsync(Stream from, Stream to, Socket toSocket)
        {
            try
            {
                await from.CopyToAsync(to, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }

            try
            {
                toSocket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        await Task.WhenAll(CopyAsync(a, b, bSocket), CopyAsync(b, a, aSocket)).ConfigureAwait(false);
    }

    private static bool IsLocal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        return IPAddress.IsLoopback(address) || address.IsIPv6LinkLocal || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ||
               (bytes.Length == 4 && bytes[0] == 169 && bytes[1] == 254);
    }

    private static bool SplitAuthority(string authority, int defaultPort, out string host, out int port)
    {
        host = authority;
        port = defaultPort;
        var colon = authority.LastIndexOf(':');
        if (colon <= 0 || (authority.StartsWith('[') && authority.LastIndexOf(']') > colon))
        {
            return false;
        }

        host = authority[..colon];
        return int.TryParse(authority[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535 && host.Length > 0;
    }

    private static async Task<(string? Head, byte[] Remainder)> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxHeaderBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return (null, []);
            }

            length += read;
            var end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return (Encoding.ASCII.GetString(buffer, 0, end + 4), buffer[(end + 4)..length]);
            }
        }

        return (null, []);
    }

    private static async Task ReplyAsync(Stream stream, int status, string reason, string message)
    {
        var body = Encoding.UTF8.GetBytes(message + "\n");
        var head = $"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync((byte[])[.. Encoding.ASCII.GetBytes(head), .. body]).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        listener.Dispose();
        await accepting.ConfigureAwait(false);
        stop.Dispose();
        if (socketPath is not null)
        {
            try
            {
                File.Delete(socketPath);
            }
            catch (IOException)
            {
            }
        }
    }
}

internal static partial class SandboxLog
{
    [LoggerMessage(40, LogLevel.Warning, "Sandbox of \"{Server}\": refused a connection to {Host}:{Port} (not in its network allowlist)")]
    public static partial void ProxyRefused(ILogger logger, string server, string host, int port);

    [LoggerMessage(41, LogLevel.Information, "\"{Server}\" runs sandboxed ({Enforcer}): {Profile}")]
    public static partial void Sandboxed(ILogger logger, string server, string enforcer, string profile);

    [LoggerMessage(42, LogLevel.Warning, "\"{Server}\" runs WITHOUT its sandbox (mode prefer): {Why}")]
    public static partial void Unsandboxed(ILogger logger, string server, string why);
}
