using System.Net;
using System.Net.Sockets;

namespace Steward.Tests;

/// <summary>
/// An <see cref="HttpListener"/> on 127.0.0.1 at a free port, each request answered by <c>answer</c> on a task of its
/// own: the skeleton of the tests' loopback stand-ins (model APIs, a remote MCP server).
/// </summary>
internal sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly HttpListener listener = new();
    private readonly Func<HttpListenerContext, Task> answer;
    private readonly Task serving;

    public LoopbackHttpServer(Func<HttpListenerContext, Task> answer)
    {
        this.answer = answer;
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}";
        listener.Prefixes.Add(Url + "/");
        listener.Start();
        serving = Task.Run(ServeAsync);
    }

    /// <summary>The base URL, without a trailing slash.</summary>
    public string Url { get; }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => answer(context));
        }
    }

    public async ValueTask DisposeAsync()
    {
        listener.Stop();
        listener.Close();
        await serving;
    }
}
