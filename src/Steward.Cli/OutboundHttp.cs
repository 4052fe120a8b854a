using Steward.Core.Net;

namespace Steward.Cli;

/// <summary>
/// The HTTP client for the documents the CLI fetches by URL (<c>registry validate &lt;url&gt;</c>; a Steward server is
/// asked through <see cref="Agent.Sources.StewardServerClient"/>): every connection passes <see cref="OutboundAddressPolicy.FromEnvironment"/> (never a
/// link-local or cloud metadata address unless <c>STEWARD_OUTBOUND_ALLOW_LINK_LOCAL=1</c>; loopback and private addresses
/// are fine: a Steward server may run there). Redirects are followed as before: each hop connects through the policy.
/// </summary>
internal static class OutboundHttp
{
    public static HttpClient Create(string purpose, TimeSpan timeout, Func<string, string?>? environment = null)
    {
        var handler = OutboundAddressPolicy.FromEnvironment(environment, purpose).CreateHandler();
        handler.AllowAutoRedirect = true;
        return new HttpClient(handler, disposeHandler: true) { Timeout = timeout };
    }
}
