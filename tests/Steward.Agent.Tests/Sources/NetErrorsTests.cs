using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Steward.Agent.Sources;

namespace Steward.Agent.Tests.Sources;

/// <summary>A failed request is told by its reason, however deep the reason is wrapped, never by "see inner exception".</summary>
public sealed class NetErrorsTests
{
    [Fact]
    public void A_refused_certificate_wrapped_in_a_request_failure_names_the_host_and_the_reason()
    {
        var failure = new HttpRequestException("The SSL connection could not be established, see inner exception.",
            new AuthenticationException("The remote certificate is invalid because of errors in the certificate chain: UntrustedRoot"));

        var message = NetErrors.Message(failure, new Uri("https://steward.example.com/api/v1/policy"));

        Assert.StartsWith("the TLS certificate of steward.example.com was not accepted (The remote certificate is invalid because of errors in the certificate chain: UntrustedRoot); Steward accepts only certificates signed by a trusted CA", message, StringComparison.Ordinal);
        Assert.DoesNotContain("inner exception", message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_request_failure_is_followed_into_what_it_wraps_and_each_reason_is_said_once()
    {
        var socket = new SocketException((int)SocketError.ConnectionReset);
        var failure = new HttpRequestException("An error occurred while sending the request.",
            new IOException("Unable to read data from the transport connection: " + socket.Message + ".", socket));

        Assert.Equal($"An error occurred while sending the request: Unable to read data from the transport connection: {socket.Message}", NetErrors.Message(failure));
    }

    [Fact]
    public void A_timeout_is_told_by_its_own_message()
    {
        var failure = new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout of 30 seconds elapsing.",
            new TimeoutException("The operation was canceled.", new TaskCanceledException("The operation was canceled.")));

        Assert.Equal("The request was canceled due to the configured HttpClient.Timeout of 30 seconds elapsing", NetErrors.Message(failure));
    }

    [Fact]
    public async Task A_real_server_with_an_untrusted_certificate_is_refused_with_the_reason()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        await using var app = builder.Build();
        app.MapGet("/", () => Results.Ok());
        await app.StartAsync();
        var url = new Uri("https://localhost:" + new Uri(app.Urls.First()).Port + "/");

        using var http = new HttpClient();
        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(url));

        var message = NetErrors.Message(failure, url);
        Assert.StartsWith("the TLS certificate of localhost was not accepted (", message, StringComparison.Ordinal);
        Assert.DoesNotContain("inner exception", message, StringComparison.OrdinalIgnoreCase);
    }
}
