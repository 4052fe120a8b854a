namespace Steward.Server.Exports;

/// <summary>What an export is asked for: one of <see cref="ExportFormats.All"/>, with its mode and, in gateway mode, the command hosts start.</summary>
internal sealed record ExportRequest(string Format, ExportOptions Options)
{
    /// <summary>
    /// The export <paramref name="format"/> names with <paramref name="mode"/> (<c>gateway|direct</c>; empty: gateway, and
    /// direct for Kiro's registry file, which has only the direct mode) and, in gateway mode, <paramref name="command"/>
    /// (empty: <c>steward</c> on PATH, else an absolute path); 404 for an unknown format, 400 naming the bad option.
    /// </summary>
    public static Outcome<ExportRequest> Read(string format, string mode, string command)
    {
        ArgumentNullException.ThrowIfNull(format);
        ArgumentNullException.ThrowIfNull(mode);
        ArgumentNullException.ThrowIfNull(command);
        if (!ExportFormats.All.Contains(format, StringComparer.Ordinal))
        {
            return Refused(StatusCodes.Status404NotFound, "Not Found", $"there is no export \"{format}\"; the formats are {string.Join(", ", ExportFormats.All)}");
        }

        if (mode.Length == 0)
        {
            mode = ExportFormats.HasGatewayMode(format) ? ExportModes.Gateway : ExportModes.Direct;
        }

        if (mode is not (ExportModes.Gateway or ExportModes.Direct))
        {
            return Refused(StatusCodes.Status400BadRequest, "Unknown export mode",
                $"mode: \"{mode}\" is not a mode; give gateway (servers started as `steward gateway --server <name>`) or direct (the upstream's own command or URL)");
        }

        if (mode == ExportModes.Gateway && !ExportFormats.HasGatewayMode(format))
        {
            return Refused(StatusCodes.Status400BadRequest, "No gateway mode for this format",
                $"mode: the {format} file lists packages, not commands, so it has only the direct mode; leave mode out or give mode=direct");
        }

        if (command.Length > 0 && mode != ExportModes.Gateway)
        {
            return Refused(StatusCodes.Status400BadRequest, "command needs the gateway mode",
                "command: the gateway's command is used only with mode=gateway; leave command out or give mode=gateway");
        }

        if (command.Length == 0)
        {
            command = ExportModes.DefaultCommand;
        }
        else if (ExportModes.CommandProblem(command) is { } problem)
        {
            return Refused(StatusCodes.Status400BadRequest, "Bad gateway command", problem);
        }

        return Outcome<ExportRequest>.Done(new ExportRequest(format, new ExportOptions(mode, command)));
    }

    private static Outcome<ExportRequest> Refused(int status, string title, string detail) => Outcome<ExportRequest>.Refused(Problems.Body(status, title, detail));
}
