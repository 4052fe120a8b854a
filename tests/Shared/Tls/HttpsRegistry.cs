using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Steward.Tests.Tls;

/// <summary>
/// A certificate authority made for one test (ECDSA P-256, valid for a day) and a server certificate it signs for
/// 127.0.0.1 and localhost (and any other DNS names given). <see cref="CaFile"/> is its PEM, which a test hands to Steward explicitly
/// (<c>STEWARD_OUTBOUND_CA_FILE</c> or <c>ServeOptions.OutboundCaFile</c>): nothing else on the machine trusts it.
/// </summary>
internal sealed class TestCa : IDisposable
{
    private TestCa(X509Certificate2 authority, X509Certificate2 server, string caFile)
    {
        Authority = authority;
        Server = server;
        CaFile = caFile;
    }

    public X509Certificate2 Authority { get; }

    /// <summary>The server certificate, with its private key, for Kestrel.</summary>
    public X509Certificate2 Server { get; }

    public string CaFile { get; }

    public static TestCa Create(string directory, params string[] moreNames)
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Steward test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var authority = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        foreach (var name in moreNames)
        {
            names.AddDnsName(name);
        }

        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var signed = serverRequest.Create(authority, now.AddMinutes(-5), now.AddHours(12), RandomNumberGenerator.GetBytes(12));
        using var withKey = signed.CopyWithPrivateKey(serverKey);
        // Through PKCS#12 so that the key is one Kestrel's TLS stack can use on every platform.
        var server = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12, "test"), "test");

        Directory.CreateDirectory(directory);
        var caFile = Path.Combine(directory, "test-ca.pem");
        File.WriteAllText(caFile, authority.ExportCertificatePem());
        return new TestCa(authority, server, caFile);
    }

    public void Dispose()
    {
        Authority.Dispose();
        Server.Dispose();
    }
}

/// <summary>
/// A real Kestrel on https://127.0.0.1 with a certificate of a <see cref="TestCa"/>, serving one registry document at
/// <c>/registry.json</c> with a strong ETag (304 to If-None-Match), as a static file server does. The test changes the
/// document, makes the host answer an error status, and reads what was asked.
/// </summary>
internal sealed class HttpsRegistry : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly Lock gate = new();
    private byte[] document = "{\"servers\":[]}"u8.ToArray();

    private HttpsRegistry(WebApplication app) => this.app = app;

    public string BaseUrl { get; private set; } = "";

    public string Url => BaseUrl + "/registry.json";

    /// <summary>Answered instead of the document when set (503, 404, …).</summary>
    public int? FailWith { get; set; }

    /// <summary>Every request: the If-None-Match it carried (null when none) and the status answered.</summary>
    public List<(string? IfNoneMatch, int Status)> Requests { get; } = [];

    public string Document
    {
        get
        {
            lock (gate)
            {
                return System.Text.Encoding.UTF8.GetString(document);
            }
        }
        set
        {
            lock (gate)
            {
                document = System.Text.Encoding.UTF8.GetBytes(value);
            }
        }
    }

    public static async Task<HttpsRegistry> StartAsync(X509Certificate2 certificate)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        var app = builder.Build();
        var host = new HttpsRegistry(app);
        app.MapGet("/registry.json", host.Answer);
        await app.StartAsync();
        host.BaseUrl = app.Urls.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
        return host;
    }

    private IResult Answer(HttpContext context)
    {
        byte[] body;
        lock (gate)
        {
            body = document;
        }

        var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(body))[..16] + "\"";
        var ifNoneMatch = context.Request.Headers.IfNoneMatch.Count > 0 ? context.Request.Headers.IfNoneMatch.ToString() : null;
        var status = FailWith ?? (ifNoneMatch == etag ? StatusCodes.Status304NotModified : StatusCodes.Status200OK);
        lock (Requests)
        {
            Requests.Add((ifNoneMatch, status));
        }

        if (status != StatusCodes.Status200OK)
        {
            if (status == StatusCodes.Status304NotModified)
            {
                context.Response.Headers.ETag = etag;
            }

            return Results.StatusCode(status);
        }

        context.Response.Headers.ETag = etag;
        return Results.Bytes(body, "application/json");
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
