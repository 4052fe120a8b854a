using System.Text.RegularExpressions;
using Steward.Core.Config;

namespace Steward.Agent.Scan;

/// <summary>A value that looks like a credential: what kind, and a redacted prefix that is safe to print.</summary>
public sealed record SecretMatch(string Kind, string Redacted);

/// <summary>
/// Recognises credentials written in clear text in a configuration value.
/// <list type="bullet">
/// <item><description>Known token shapes: GitHub (<c>ghp_</c>, <c>gho_</c>, <c>ghu_</c>, <c>ghs_</c>, <c>ghr_</c>,
/// <c>github_pat_</c>), AWS access key ids (<c>AKIA</c>/<c>ASIA</c> + 16) and secret access keys (40 characters of base64
/// under a name that says AWS and SECRET), Slack (<c>xoxa-</c>, <c>xoxb-</c>, <c>xoxp-</c>, <c>xoxr-</c>), Anthropic
/// (<c>sk-ant-</c>), OpenAI (<c>sk-proj-</c>, <c>sk-svcacct-</c>, <c>sk-</c>).</description></item>
/// <item><description>Long random-looking values: at least <see cref="MinimumEntropyLength"/> characters without spaces,
/// not a path or a URL, whose Shannon entropy is at least <see cref="EntropyThreshold"/> bits per character (random base64
/// or alphanumerics score about 4.5 to 5.5; words and identifiers score under 4), or hexadecimal of at least 32 characters
/// with at least <see cref="HexEntropyThreshold"/> bits per character (hex tops out at 4).</description></item>
/// </list>
/// The text after an HTTP scheme word (<c>Bearer</c>, <c>Basic</c>, <c>token</c>) is what is checked in a header. Values
/// that are entirely <c>${VAR}</c> references are never secrets. A match is reported by kind and a redacted prefix
/// (the first four characters of a known shape, three of anything else), never the value.
/// </summary>
public static partial class SecretDetector
{
    public const int MinimumEntropyLength = 20;
    public const double EntropyThreshold = 4.0;
    public const double HexEntropyThreshold = 3.0;

    public static SecretMatch? Find(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        var candidate = CredentialPart(value);
        if (candidate.Length < 8 || EnvReferences.HasReferences(candidate))
        {
            return null;
        }

        if (Shape(candidate) is { } kind)
        {
            return new SecretMatch(kind, Redact(candidate, 4));
        }

        if (name.Contains("AWS", StringComparison.OrdinalIgnoreCase) && name.Contains("SECRET", StringComparison.OrdinalIgnoreCase) && AwsSecret().IsMatch(candidate))
        {
            return new SecretMatch("aws-secret-access-key", Redact(candidate, 3));
        }

        return IsHighEntropy(candidate) ? new SecretMatch("high-entropy", Redact(candidate, 3)) : null;
    }

    /// <summary>Only the known token shapes (for command-line arguments, where long paths and hashes are common).</summary>
    public static SecretMatch? FindShape(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var at = value.IndexOf('=', StringComparison.Ordinal);
        var candidate = at >= 0 && value.StartsWith('-') ? value[(at + 1)..] : value;
        return Shape(candidate) is { } kind ? new SecretMatch(kind, Redact(candidate, 4)) : null;
    }

    /// <summary>The credential inside a header value: the text after <c>Bearer</c>, <c>Basic</c> or <c>token</c>, else the whole value.</summary>
    public static string CredentialPart(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var trimmed = value.Trim();
        var space = trimmed.IndexOf(' ', StringComparison.Ordinal);
        if (space > 0 && trimmed[..space] is var scheme &&
            (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase) || scheme.Equals("token", StringComparison.OrdinalIgnoreCase)))
        {
            return trimmed[(space + 1)..].Trim();
        }

        return trimmed;
    }

    private static string? Shape(string candidate)
    {
        if (GitHub().IsMatch(candidate))
        {
            return "github-token";
        }

        if (AwsKeyId().IsMatch(candidate))
        {
            return "aws-access-key-id";
        }

        if (Slack().IsMatch(candidate))
        {
            return "slack-token";
        }

        if (Anthropic().IsMatch(candidate))
        {
            return "anthropic-api-key";
        }

        return OpenAi().IsMatch(candidate) ? "openai-api-key" : null;
    }

    public static bool IsHighEntropy(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length < MinimumEntropyLength || value.Any(char.IsWhiteSpace) || value.Contains("://", StringComparison.Ordinal) ||
            value[0] is '/' or '~' or '.' || value.Count(c => c == '/') > 2 || value.Count(c => c == '-') > 4)
        {
            return false;
        }

        var entropy = Entropy(value);
        var hex = value.All(char.IsAsciiHexDigit);
        return hex ? value.Length >= 32 && entropy >= HexEntropyThreshold : entropy >= EntropyThreshold;
    }

    /// <summary>Shannon entropy in bits per character.</summary>
    public static double Entropy(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0)
        {
            return 0;
        }

        var counts = new Dictionary<char, int>();
        foreach (var c in value)
        {
            counts[c] = counts.GetValueOrDefault(c) + 1;
        }

        double entropy = 0;
        foreach (var count in counts.Values)
        {
            var p = (double)count / value.Length;
            entropy -= p * Math.Log2(p);
        }

        return entropy;
    }

    private static string Redact(string value, int keep) => value[..Math.Min(keep, value.Length / 4)] + "…";

    [GeneratedRegex(@"^(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})$", RegexOptions.CultureInvariant)]
    private static partial Regex GitHub();

    [GeneratedRegex(@"^(AKIA|ASIA)[A-Z0-9]{16}$", RegexOptions.CultureInvariant)]
    private static partial Regex AwsKeyId();

    [GeneratedRegex(@"^[A-Za-z0-9/+]{40}$", RegexOptions.CultureInvariant)]
    private static partial Regex AwsSecret();

    [GeneratedRegex(@"^xox[abpr]-[A-Za-z0-9-]{10,}$", RegexOptions.CultureInvariant)]
    private static partial Regex Slack();

    [GeneratedRegex(@"^sk-ant-[A-Za-z0-9_-]{20,}$", RegexOptions.CultureInvariant)]
    private static partial Regex Anthropic();

    [GeneratedRegex(@"^sk-(proj-|svcacct-)?[A-Za-z0-9_-]{20,}$", RegexOptions.CultureInvariant)]
    private static partial Regex OpenAi();
}
