using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Steward.Server.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Tests.Inputs;

/// <summary>An import's body is refused over Core's document limit before it is parsed, and at most two imports run at once.</summary>
public sealed class ImportLimitsTests
{
    private const string Import = "/api/v1/orgs/demo/registry/import";

    /// <summary>A JSON array holding one valid server.json, padded with whitespace to <paramref name="size"/> bytes.</summary>
    private static byte[] PaddedArray(string name, int size)
    {
        var head = Encoding.UTF8.GetBytes("[" + TestServer.ServerJson(name, "1.0.0"));
        var body = new byte[size];
        head.CopyTo(body, 0);
        body.AsSpan(head.Length, size - head.Length - 1).Fill((byte)' ');
        body[^1] = (byte)']';
        return body;
    }

    [Fact]
    public async Task An_import_body_over_the_limit_is_413_naming_the_limit_and_changes_nothing()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        var revision = await RevisionAsync(server);

        // Declared over the limit: answered at once, whether or not the client goes on sending.
        {
            var (status, text) = await PostRawAsync(server.BaseUrl, Import, PaddedArray("com.example.big/declared", RegistryImport.MaxBodyBytes + 1));
            Assert.True(status == 413, $"{status} {text}");
            Assert.Contains("over the limit of 20971520 bytes (20 MiB)", text, StringComparison.Ordinal);
        }

        // Sent without a length (chunked): refused once one byte more than the limit has arrived.
        using (var chunked = new StreamContent(new MemoryStream(PaddedArray("com.example.big/chunked", RegistryImport.MaxBodyBytes + 1))))
        {
            chunked.Headers.ContentType = new("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, Import) { Content = chunked };
            request.Headers.TransferEncodingChunked = true;
            using var response = await admin.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{(int)response.StatusCode} {text}");
            Assert.Contains("over the limit of 20971520 bytes (20 MiB)", text, StringComparison.Ordinal);
        }

        using var anonymous = server.Client();
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/v0.1/servers/com.example.big%2Fdeclared/versions/1.0.0")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/v0.1/servers/com.example.big%2Fchunked/versions/1.0.0")).StatusCode);
        Assert.Equal(revision, await RevisionAsync(server));

        // At the limit it is read and imported.
        using var atLimit = new ByteArrayContent(PaddedArray("com.example.big/at-limit", RegistryImport.MaxBodyBytes));
        atLimit.Headers.ContentType = new("application/json");
        using var accepted = await admin.PostAsync(Import, atLimit);
        Assert.True(accepted.StatusCode == HttpStatusCode.OK, await accepted.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/v0.1/servers/com.example.big%2Fat-limit/versions/1.0.0")).StatusCode);
    }

    [Fact]
    public async Task A_third_concurrent_import_is_answered_503_with_retry_after_and_imports_nothing()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        var gate = server.Server.Services.GetRequiredService<ImportGate>();
        var body = "[" + TestServer.ServerJson("com.example.gate/server", "1.0.0") + "]";

        // Two imports in progress hold both slots.
        Assert.True(gate.TryEnter());
        Assert.True(gate.TryEnter());
        try
        {
            using var busy = await admin.PostAsync(Import, TestServer.Json(body));
            var problem = JsonNode.Parse(await busy.Content.ReadAsStringAsync())!;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(ImportGate.RetryAfterSeconds), busy.Headers.RetryAfter?.Delta);
            Assert.Contains("at most 2 run at a time", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
            using var anonymous = server.Client();
            Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/v0.1/servers/com.example.gate%2Fserver/versions/1.0.0")).StatusCode);
        }
        finally
        {
            gate.Exit();
            gate.Exit();
        }

        // A slot free again: the import runs, and gives its slot back when done.
        using var imported = await admin.PostAsync(Import, TestServer.Json(body));
        Assert.True(imported.StatusCode == HttpStatusCode.OK, await imported.Content.ReadAsStringAsync());
        Assert.True(gate.TryEnter());
        Assert.True(gate.TryEnter());
        gate.Exit();
        gate.Exit();
    }

    /// <summary>
    /// A POST with a Content-Length, over a plain socket: the body is written while the answer is read, so an answer
    /// sent before the body is read is seen (an HttpClient reports the broken pipe instead).
    /// </summary>
    private static async Task<(int Status, string Text)> PostRawAsync(Uri baseUrl, string path, byte[] body)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(baseUrl.Host, baseUrl.Port);
        var stream = tcp.GetStream();
        var head = $"POST {path} HTTP/1.1\r\nHost: {baseUrl.Authority}\r\nAuthorization: Bearer {TestServer.AdminToken}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var sending = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(body);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The server answered and closed without reading the rest: what this test is about.
            }
        });

        var received = new List<byte>();
        var buffer = new byte[8192];
        while (true)
        {
            var text = Encoding.UTF8.GetString(received.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var headers = text[..end];
                var rest = text[(end + 4)..];
                var length = headers.Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } line
                    ? int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)
                    : (int?)null;
                if ((length is { } l && Encoding.UTF8.GetByteCount(rest) >= l) || (length is null && rest.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal)))
                {
                    tcp.Close();
                    await sending;
                    return (int.Parse(headers.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), rest);
                }
            }

            var read = await stream.ReadAsync(buffer);
            Assert.True(read > 0, "the server closed the connection without a complete answer: " + text);
            received.AddRange(buffer.AsSpan(0, read));
        }
    }

    private static async Task<long> RevisionAsync(TestServer server)
    {
        var organisation = await Organisations.Organisation.FindAsync(server.Server.Database, "demo", CancellationToken.None);
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        var revision = await connection.ScalarAsync("SELECT revision FROM profiles WHERE organisation_id = @org AND account_id IS NULL", null, CancellationToken.None, ("org", organisation!.Id));
        return Convert.ToInt64(revision, System.Globalization.CultureInfo.InvariantCulture);
    }
}
