namespace Steward.Cli;

/// <summary>The exit codes every <c>steward</c> command uses.</summary>
public static class ExitCodes
{
    /// <summary>Done; for validation: valid (warnings allowed).</summary>
    public const int Ok = 0;

    /// <summary>The input was read and is invalid, or the request was refused.</summary>
    public const int Invalid = 1;

    /// <summary>The input could not be read at all: missing, unreachable, not JSON, too large, too deep.</summary>
    public const int Unreadable = 2;

    /// <summary>
    /// The command line cannot be acted on: an unknown option, a value outside its choices or of the wrong form, options
    /// that do not go together. The same code as <see cref="Unreadable"/>: in both, Steward could not start on the work.
    /// </summary>
    public const int Usage = Unreadable;

    /// <summary>A fault in Steward itself (EX_SOFTWARE); the message says how to report it.</summary>
    public const int Internal = 70;
}
