using System.Globalization;

namespace Steward.Agent;

/// <summary>
/// One line of Steward's log file (<see cref="StewardPaths.LogFile"/>) read back into its parts, for
/// <c>steward logs --json</c>. The line is as <see cref="Gateway.GatewayLogging"/> writes it:
/// <c>2026-01-02T03:04:05.678Z info Gateway[12] text</c>. A line of another form (written by hand, cut off) keeps only
/// its text, so that no line of the file is dropped.
/// </summary>
/// <param name="Level"><c>trace</c>, <c>debug</c>, <c>information</c>, <c>warning</c>, <c>error</c> or <c>critical</c>.</param>
/// <param name="Category">The last part of the logger's category (<c>Gateway</c>, <c>PolicySync</c>).</param>
/// <param name="Message">The event's text as the file holds it: one line, control characters escaped (<c>\n</c>), long texts cut.</param>
public sealed record LogEntry(DateTimeOffset? Time, string? Level, string? Category, int? EventId, string Message)
{
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    public static LogEntry Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var parts = line.Split(' ', 4);
        if (parts.Length >= 3 &&
            DateTimeOffset.TryParseExact(parts[0], TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time) &&
            LevelName(parts[1]) is { } level &&
            parts[2] is [.., ']'] source && source.IndexOf('[', StringComparison.Ordinal) is > 0 and var open &&
            int.TryParse(source.AsSpan(open + 1, source.Length - open - 2), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var eventId))
        {
            return new LogEntry(time, level, source[..open], eventId, parts.Length == 4 ? parts[3] : "");
        }

        return new LogEntry(null, null, null, null, line);
    }

    /// <summary>The level's name for the file's four-letter abbreviation (those of Microsoft.Extensions.Logging's console).</summary>
    private static string? LevelName(string abbreviation) => abbreviation switch
    {
        "trce" => "trace",
        "dbug" => "debug",
        "info" => "information",
        "warn" => "warning",
        "fail" => "error",
        "crit" => "critical",
        _ => null,
    };
}
