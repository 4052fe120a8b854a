namespace Steward.Core.Validation;

public enum Severity
{
    Error,
    Warning,
}

/// <summary>
/// One thing wrong with a document: where (a JSON path such as <c>servers[3].server.packages[0].identifier</c>),
/// which rule, what is wrong, and how to fix it.
/// </summary>
public sealed record Problem(Severity Severity, string Path, string Rule, string Message, string Hint)
{
    public static Problem Error(string path, string rule, string message, string hint) => new(Severity.Error, path, rule, message, hint);

    public static Problem Warning(string path, string rule, string message, string hint) => new(Severity.Warning, path, rule, message, hint);

    public bool IsError => Severity == Severity.Error;

    public override string ToString() =>
        $"{(IsError ? "error" : "warning")}: {(Path.Length == 0 ? "(document)" : Path)}: {Message} [{Rule}]{(Hint.Length == 0 ? "" : " — " + Hint)}";
}

public static class ProblemListExtensions
{
    public static bool HasErrors(this IEnumerable<Problem> problems) => problems.Any(p => p.IsError);
}
