using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Steward.Agent.Files;
using Steward.Core.Json;

namespace Steward.Agent.Sync;

/// <summary>
/// What this machine last applied from its Steward server, kept next to the cache in <c>policy-applied.json</c> (0600,
/// written atomically): the high-water mark of the bundles accepted (revision and <c>iat</c>), so that a bundle older than
/// one already applied is refused at every sync and every load of the cache; and, when the server last refused the
/// token (401 or 403), why, so that every steward process of the user sees MCP disabled until a sync succeeds again.
/// </summary>
/// <param name="Revision">The revision of the newest bundle accepted (null when none is recorded yet).</param>
/// <param name="IssuedAt">Its <c>iat</c>, in seconds since the epoch.</param>
/// <param name="TokenRefused">Why the server last refused the token; null once a sync succeeds.</param>
public sealed record AppliedMark(string SourceLocation, string? Subject, string? Revision, long? IssuedAt, string? TokenRefused = null, DateTimeOffset? RefusedAt = null)
{
    public const string Format = "steward-policy-applied/1";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Whether the mark was left by this login (the same server and, once bound, the same organisation or account).</summary>
    public bool AppliesTo(string location, string? subject) =>
        string.Equals(SourceLocation, location, StringComparison.Ordinal) &&
        (Subject is null || subject is null || string.Equals(Subject, subject, StringComparison.Ordinal));

    /// <summary>
    /// Whether a bundle of <paramref name="revision"/> issued at <paramref name="issuedAt"/> is older than the one this
    /// mark records. A server's revision is <c>&lt;organisation revision&gt;</c> or <c>&lt;organisation revision&gt;.&lt;account
    /// revision&gt;</c>, each only ever raised: compared as numbers, the organisation's first, the account's when both
    /// name one. Equal (or not comparable as numbers), the issued-at time decides: an earlier window is older.
    /// </summary>
    public bool IsNewerThan(string revision, long issuedAt)
    {
        if (Revision is null || IssuedAt is not { } markIssued)
        {
            return false;
        }

        var order = CompareRevisions(revision, Revision);
        return order < 0 || (order is null or 0 && issuedAt < markIssued);
    }

    /// <summary>What is recorded, for a message: <c>revision 12.3 issued at 2026-03-01 09:00 UTC</c>.</summary>
    public string Describe() =>
        $"revision {Revision} issued at {SignedPolicy.Time(DateTimeOffset.FromUnixTimeSeconds(IssuedAt ?? 0))}";

    /// <summary>Negative when <paramref name="a"/> is older than <paramref name="b"/>; null when either is not a server revision.</summary>
    internal static int? CompareRevisions(string a, string b)
    {
        if (Parse(a) is not var (aOrg, aAccount) || Parse(b) is not var (bOrg, bAccount))
        {
            return null;
        }

        if (aOrg != bOrg)
        {
            return aOrg.CompareTo(bOrg);
        }

        return aAccount is { } x && bAccount is { } y ? x.CompareTo(y) : 0;

        static (long Organisation, long? Account)? Parse(string revision)
        {
            var dot = revision.IndexOf('.', StringComparison.Ordinal);
            var first = dot < 0 ? revision : revision[..dot];
            if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var organisation))
            {
                return null;
            }

            if (dot < 0)
            {
                return (organisation, null);
            }

            return long.TryParse(revision.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var account) ? (organisation, account) : null;
        }
    }

    /// <summary>The mark, or null when there is none (or it cannot be read: it is then rewritten by the next bundle accepted).</summary>
    public static AppliedMark? Read(StewardPaths paths, out string? unreadable)
    {
        ArgumentNullException.ThrowIfNull(paths);
        unreadable = null;
        byte[]? bytes;
        try
        {
            bytes = PrivateFiles.ReadIfExists(paths.PolicyApplied);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            unreadable = $"{paths.PolicyApplied} cannot be read ({e.Message})";
            return null;
        }

        if (bytes is null)
        {
            return null;
        }

        var parsed = StrictJson.Parse(bytes);
        using var document = parsed.Document;
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object ||
            Text(document.RootElement, "format") != Format || Text(document.RootElement, "sourceLocation") is not { } location)
        {
            unreadable = $"{paths.PolicyApplied} is not a Steward applied-policy record of this version";
            return null;
        }

        var root = document.RootElement;
        long? issuedAt = root.TryGetProperty("issuedAt", out var iat) && iat.ValueKind == JsonValueKind.Number && iat.TryGetInt64(out var seconds) ? seconds : null;
        DateTimeOffset? refusedAt = Text(root, "refusedAt") is { } at &&
            DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var when) ? when : null;
        return new AppliedMark(location, Text(root, "subject"), Text(root, "revision"), issuedAt, Text(root, "tokenRefused"), refusedAt);
    }

    /// <summary>
    /// Reads the mark, changes it and writes the result, holding <c>policy-applied.json.lock</c> so that two steward
    /// processes cannot interleave (a <c>steward sync</c> beside a running gateway). <paramref name="change"/> returns the
    /// mark to write, or null to leave the file as it is. Returns what the file holds afterwards.
    /// </summary>
    public static AppliedMark? Update(StewardPaths paths, Func<AppliedMark?, AppliedMark?> change)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(change);
        PrivateFiles.EnsureDirectory(paths.ConfigDirectory);
        using var held = FileLock.Acquire(paths.PolicyApplied + ".lock", TimeSpan.FromSeconds(10));
        var current = Read(paths, out _);
        if (change(current) is not { } next)
        {
            return current;
        }

        Write(paths, next);
        return next;
    }

    private static void Write(StewardPaths paths, AppliedMark mark)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("format", Format);
            writer.WriteString("sourceLocation", mark.SourceLocation);
            WriteOptional(writer, "subject", mark.Subject);
            WriteOptional(writer, "revision", mark.Revision);
            if (mark.IssuedAt is { } issuedAt)
            {
                writer.WriteNumber("issuedAt", issuedAt);
            }

            WriteOptional(writer, "tokenRefused", mark.TokenRefused);
            WriteOptional(writer, "refusedAt", mark.RefusedAt?.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            writer.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        PrivateFiles.WriteAtomic(paths.PolicyApplied, stream.ToArray());
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
