namespace Steward.Server.Exports;

/// <summary>
/// How an export's servers are started. <see cref="Gateway"/> (the default): each server is
/// <c>&lt;command&gt; gateway --server &lt;name&gt;</c>, so the host runs Steward's gateway, which starts the approved
/// upstream and enforces the policy at run time, and the allowlists admit exactly those argv. <see cref="Direct"/>: the
/// upstream's own argv or URL, for machines without Steward installed.
/// </summary>
public static class ExportModes
{
    public const string Gateway = "gateway";
    public const string Direct = "direct";

    /// <summary>The command hosts start in gateway mode unless the admin gives another: <c>steward</c>, found on PATH.</summary>
    public const string DefaultCommand = "steward";

    public const int CommandLimit = 1024;

    /// <summary>
    /// Why <paramref name="command"/> cannot be the gateway's command, or null: a bare program name (found on PATH) or
    /// an absolute path (<c>/usr/local/bin/steward</c>, <c>C:\Program Files\Steward\steward.exe</c>), without control
    /// characters; a relative path would depend on the host's working directory.
    /// </summary>
    public static string? CommandProblem(string command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.Length == 0 || command.Length > CommandLimit || command.Trim() != command || command.Any(char.IsControl))
        {
            return $"command: give the program hosts start for Steward's gateway, a name on PATH (steward) or an absolute path, at most {CommandLimit} characters, without control characters or surrounding spaces";
        }

        var bare = !command.Contains('/', StringComparison.Ordinal) && !command.Contains('\\', StringComparison.Ordinal);
        var absolute = command.StartsWith('/') || (command.Length > 2 && char.IsAsciiLetter(command[0]) && command[1] == ':' && command[2] is '\\' or '/');
        return bare || absolute ? null : $"command: \"{command}\" is a relative path, which depends on the host's working directory; give a name on PATH (steward) or an absolute path";
    }
}
