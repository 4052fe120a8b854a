using System.Security.Authentication;
using Steward.Core.Net;

namespace Steward.Agent.Sources;

/// <summary>
/// What a failed request says to the user. An <see cref="HttpRequestException"/>'s own message is often only "The SSL
/// connection could not be established, see inner exception." or "An error occurred while sending the request.": the
/// reason is further in. Every place that tells why a request failed (policy sources, the change channel, the server
/// client, sign-in, the audit upload, the CLI's documents) uses this one description.
/// </summary>
public static class NetErrors
{
    private static readonly string[] PointersInward =
    [
        ", see inner exception.",
        " See the inner exception for details.",
        " See inner exception.",
    ];

    /// <summary>
    /// The reason <paramref name="failure"/> gives, its inner exceptions included: for a refused TLS certificate, which
    /// host's (<paramref name="url"/>) and why, with where a private CA is added; otherwise each message of the chain
    /// that says something new, outermost first, joined by ": " (a request's or a transport's failure is followed into
    /// what it wraps; any other exception ends the chain unless its message points inward).
    /// </summary>
    public static string Message(Exception failure, Uri? url = null)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var parts = new List<string>();
        for (var current = failure; current is not null; current = current.InnerException)
        {
            if (current is AuthenticationException tls)
            {
                return TlsRefused(url, tls);
            }

            var text = Trimmed(current.Message, out var pointsInward);
            if (text.Length > 0 && !parts.Exists(part => part.Contains(text, StringComparison.Ordinal)))
            {
                parts.Add(text);
            }

            // A request's failure, or a transport's, is told by what it wraps; a timeout's inner exception adds nothing.
            if (current is not (HttpRequestException or IOException) && !pointsInward)
            {
                break;
            }
        }

        return parts.Count > 0 ? string.Join(": ", parts) : failure.GetType().Name;
    }

    private static string TlsRefused(Uri? url, AuthenticationException tls) =>
        $"the TLS certificate of {url?.Host ?? "the server"} was not accepted ({Trimmed(tls.Message)}); Steward accepts only certificates signed by a trusted CA" +
        (OutboundTrust.FromEnvironment()?.Error is { } trustError ? $" ({trustError})" : $" (a private CA is added with {OutboundTrust.Variable}=<PEM file>)");

    private static string Trimmed(string message) => Trimmed(message, out _);

    private static string Trimmed(string message, out bool pointsInward)
    {
        var text = message.Trim();
        pointsInward = false;
        foreach (var pointer in PointersInward)
        {
            if (text.EndsWith(pointer, StringComparison.OrdinalIgnoreCase))
            {
                text = text[..^pointer.Length];
                pointsInward = true;
            }
        }

        return text.TrimEnd('.', ' ');
    }
}
