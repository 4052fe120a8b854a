using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Steward.Core.Net;

/// <summary>
/// Certificate authorities that Steward's own outbound clients trust in addition to the platform's: a PEM bundle named by
/// <c>STEWARD_OUTBOUND_CA_FILE</c> (a private CA of the organisation, or a test CA). A server certificate passes when the
/// platform accepts it, or when its chain, built to one of these CAs, is valid and its name matches the host: an added
/// trust anchor, never a way to skip validation (an expired, revoked-by-chain, self-signed or wrongly named certificate
/// is still refused). It applies to Steward's clients only, not to the processes Steward starts.
/// </summary>
public sealed class OutboundTrust
{
    public const string Variable = "STEWARD_OUTBOUND_CA_FILE";

    private OutboundTrust(string file, X509Certificate2Collection authorities, string? error = null)
    {
        File = file;
        Authorities = authorities;
        Error = error;
    }

    /// <summary>Why the bundle named by the environment could not be read (then no CA is added); null when it was.</summary>
    public string? Error { get; }

    /// <summary>The bundle file it was read from.</summary>
    public string File { get; }

    public X509Certificate2Collection Authorities { get; }

    /// <summary>The CAs of a PEM bundle file; null and why when it cannot be read or holds no certificate.</summary>
    public static OutboundTrust? Load(string file, out string? error)
    {
        ArgumentNullException.ThrowIfNull(file);
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            error = $"cannot read the CA bundle {file}: {e.Message}; give a readable file of PEM certificates (-----BEGIN CERTIFICATE-----)";
            return null;
        }

        if (authorities.Count == 0)
        {
            error = $"the CA bundle {file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
            return null;
        }

        error = null;
        return new OutboundTrust(file, authorities);
    }

    /// <summary>
    /// The bundle named by <see cref="Variable"/>: null when it is not set. One that cannot be read adds no CA and says
    /// why in <see cref="Error"/> (shown with a refused certificate), so that a mistyped path never widens trust.
    /// </summary>
    public static OutboundTrust? FromEnvironment(Func<string, string?>? environment = null)
    {
        if ((environment ?? Environment.GetEnvironmentVariable)(Variable) is not { Length: > 0 } file)
        {
            return null;
        }

        return Load(file, out var error) ?? new OutboundTrust(file, [], Variable + ": " + error);
    }

    /// <summary>Lets <paramref name="handler"/> accept a certificate that chains to one of the added CAs (and only for that reason).</summary>
    public void Apply(SocketsHttpHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        handler.SslOptions.RemoteCertificateValidationCallback = Validate;
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        // A name mismatch or a missing certificate is never forgiven; only a chain the platform could not build to its roots is tried again against the added ones.
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null || Authorities.Count == 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(Authorities);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var leaf = new X509Certificate2(certificate);
        return custom.Build(leaf);
    }
}
