using System.Globalization;
using System.Text.Json;

namespace Steward.Agent.Scan;

/// <summary>A secret moved out of a file: the variable to export it as. The value prints as "(secret)".</summary>
public sealed record ExportedSecret(string Variable, SecretValue Value);

/// <summary>What <c>--fix</c> did: the backups written, the files changed, the variables to export, and what it could not do.</summary>
public sealed record FixResult(IReadOnlyList<string> Backups, IReadOnlyList<string> Changed, IReadOnlyList<ExportedSecret> Exports, IReadOnlyList<string> Errors);

/// <summary>
/// <c>steward scan --fix</c>. For each file with something to fix, first a backup next to it
/// (<c>&lt;file&gt;.steward-backup-&lt;UTC timestamp&gt;</c>, mode 0600, the exact original bytes), then, in one atomic
/// write that changes only the bytes it must:
/// <list type="bullet">
/// <item><description>clear-text secrets in <c>env</c> and <c>headers</c> become references in the host's syntax
/// (<c>${VAR}</c> for Steward, Kiro and Claude Code; <c>${env:VAR}</c> for VS Code, Cursor and Windsurf); the values are
/// returned for the terminal only, never written anywhere but the backup, which already held them;</description></item>
/// <item><description>servers that are not admitted are disabled the host's own way: <c>"disabled": true</c> in Kiro and
/// Steward files; elsewhere (Claude Code, Claude Desktop, VS Code, Cursor, Windsurf, which have no disabled flag that
/// every version honours) the entry moves, unchanged, into an object <c>_steward_disabled</c> next to the servers
/// object, which the hosts ignore; moving it back re-enables it;</description></item>
/// <item><description>the file ends up mode 0600 (a symbolic link is followed and its target written).</description></item>
/// </list>
/// A file whose result would not parse is left as it was and reported.
/// </summary>
public static class ScanFixer
{
    public const string DisabledKey = "_steward_disabled";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static FixResult Fix(ScanReport report, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(time);
        var stamp = time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var backups = new List<string>();
        var changed = new List<string>();
        var exports = new List<ExportedSecret>();
        var errors = new List<string>();
        foreach (var group in report.Findings.Where(f => f.Fix is not null).GroupBy(f => f.File, StringComparer.Ordinal))
        {
            var path = group.Key;
            var host = ScanHost.All.First(h => h.Id == group.First().Host);
            try
            {
                var target = ResolveLinks(path);
                var original = File.ReadAllBytes(target);
                backups.Add(Backup(target, original, stamp));
                var bytes = original;
                var moved = new List<ExportedSecret>();
                foreach (var finding in group)
                {
                    if (finding.Fix is ScanFix.Secret secret)
                    {
                        bytes = JsonTextEdit.ReplaceValue(bytes, secret.Path, JsonTextEdit.Quote(secret.NewValue));
                        moved.Add(new ExportedSecret(secret.Variable, secret.Value));
                    }
                }

                foreach (var disable in group.Select(f => f.Fix).OfType<ScanFix.Disable>())
                {
                    bytes = host.HonoursDisabled
                        ? JsonTextEdit.SetMember(bytes, [.. disable.ServersPath, disable.Name], "disabled", "true")
                        : MoveToDisabled(bytes, disable);
                }

                if (!bytes.AsSpan().SequenceEqual(original))
                {
                    EnsureParses(bytes, path);
                    WriteAtomic(target, bytes);
                    changed.Add(path);
                    exports.AddRange(moved);
                }

                if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(target) & ~OwnerOnly) != 0)
                {
                    File.SetUnixFileMode(target, OwnerOnly);
                    if (!changed.Contains(path))
                    {
                        changed.Add(path);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or JsonException)
            {
                errors.Add($"{path} was not changed: {e.Message}");
            }
        }

        return new FixResult(backups, changed, exports.DistinctBy(e => e.Variable).ToList(), errors);
    }

    /// <summary>The line to run to set <paramref name="secret"/> in a POSIX shell (single-quoted; for the terminal only).</summary>
    public static string ExportLine(ExportedSecret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return $"export {secret.Variable}='{secret.Value.Reveal().Replace("'", "'\\''", StringComparison.Ordinal)}'";
    }

    private static byte[] MoveToDisabled(byte[] bytes, ScanFix.Disable disable)
    {
        var (without, raw) = JsonTextEdit.RemoveMember(bytes, disable.ServersPath, disable.Name);
        IReadOnlyList<string> parent = disable.ServersPath.Take(disable.ServersPath.Count - 1).ToList();
        if (JsonTextEdit.Locate(without, [.. parent, DisabledKey]) is null)
        {
            without = JsonTextEdit.InsertMember(without, parent, DisabledKey, "{}");
        }

        return JsonTextEdit.SetMember(without, [.. parent, DisabledKey], disable.Name, raw);
    }

    private static void EnsureParses(byte[] bytes, string path)
    {
        try
        {
            using var _ = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the edited {path} would not be valid JSON ({e.Message})", e);
        }
    }

    private static string ResolveLinks(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } final ? final.FullName : path;
    }

    /// <summary>A new file next to <paramref name="path"/>, 0600, never overwriting an earlier backup.</summary>
    private static string Backup(string path, byte[] bytes, string stamp)
    {
        for (var attempt = 0; ; attempt++)
        {
            var backup = path + ".steward-backup-" + stamp + (attempt == 0 ? "" : "-" + attempt.ToString(CultureInfo.InvariantCulture));
            try
            {
                WriteNew(backup, bytes);
                return backup;
            }
            catch (IOException) when (File.Exists(backup) && attempt < 100)
            {
            }
        }
    }

    private static void WriteNew(string path, byte[] bytes)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        using var stream = new FileStream(path, options);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Replaces the file through a temporary file in its directory (0600), leaving the directory's own mode alone.</summary>
    private static void WriteAtomic(string path, byte[] bytes)
    {
        var temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..12] + ".tmp");
        try
        {
            WriteNew(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
