using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Cli.Registry;

/// <summary>The <c>--json</c> (or <c>--format json</c>) answer of <c>steward registry validate</c>.</summary>
internal sealed record ValidationReport(
    string Source,
    bool Valid,
    string? Shape,
    int Servers,
    int Errors,
    int Warnings,
    IReadOnlyList<ProblemReport> Problems,
    FailureReport? Failure);

internal sealed record ProblemReport(string Severity, string Path, string Rule, string Message, string Hint);

internal sealed record FailureReport(string Kind, string Message, long? Line, long? Column);

internal static class Report
{
    public static ValidationReport From(string source, LoadResult result)
    {
        var problems = result.Problems
            .Select(p => new ProblemReport(p.IsError ? "error" : "warning", p.Path, p.Rule, p.Message, p.Hint))
            .ToList();
        var errors = problems.Count(p => p.Severity == "error");
        var failure = result.Failure is { } f
            ? new FailureReport(KindName(f.Kind), f.Message, f.Line, f.Column)
            : null;
        return new ValidationReport(
            source,
            result.IsValid,
            result.Document is { } d ? ShapeName(d.Shape) : null,
            result.Document?.Entries.Count ?? 0,
            errors,
            problems.Count - errors,
            problems,
            failure);
    }

    internal static string ShapeName(RegistryShape shape) => shape switch
    {
        RegistryShape.ServerJson => "server",
        RegistryShape.ServerJsonArray => "array",
        RegistryShape.RegistryApiPage => "page",
        RegistryShape.KiroFile => "kiro",
        _ => shape.ToString(),
    };

    private static string KindName(ReadFailureKind kind) => kind switch
    {
        ReadFailureKind.NotJson => "not-json",
        ReadFailureKind.TooLarge => "too-large",
        ReadFailureKind.TooDeep => "too-deep",
        _ => "unreadable",
    };
}
