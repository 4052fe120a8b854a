using Microsoft.AspNetCore.Http;

namespace Steward.Server.Hosting;

/// <summary>
/// An RFC 9457 problem: <c>application/problem+json</c> with type, title, status and detail. <see cref="Error"/> repeats
/// the title for clients written against the official registry's <c>{"error": "..."}</c> bodies; <see cref="Errors"/>
/// lists every field problem (a query parameter's <c>location</c>, or a server.json <c>path</c> with its rule and hint).
/// </summary>
public sealed record ProblemBody
{
    public string Type { get; init; } = "about:blank";
    public required string Title { get; init; }
    public required int Status { get; init; }
    public string? Detail { get; init; }
    public string? Error { get; init; }
    public IReadOnlyList<ProblemItem>? Errors { get; init; }
}

public sealed record ProblemItem
{
    public string? Location { get; init; }
    public string? Path { get; init; }
    public string? Rule { get; init; }
    public string? Severity { get; init; }
    public required string Message { get; init; }
    public string? Hint { get; init; }
    public string? Value { get; init; }
}

internal static class Problems
{
    public const string ContentType = "application/problem+json";

    public static IResult Result(int status, string title, string? detail = null, IReadOnlyList<ProblemItem>? errors = null, bool withError = false) =>
        Results.Json(new ProblemBody { Title = title, Status = status, Detail = detail, Errors = errors, Error = withError ? title : null },
            ServerJsonContext.Default.ProblemBody, ContentType, status);

    /// <summary>A query parameter out of range or of the wrong type: 422, naming the parameter.</summary>
    public static IResult Query(string parameter, string message, string? value) =>
        Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", $"query parameter {parameter}: {message}",
            [new ProblemItem { Location = "query." + parameter, Message = message, Value = value }]);

    public static IResult BadRequest(string detail) => Result(StatusCodes.Status400BadRequest, "Bad Request", detail);

    public static IResult ServerNotFound(string name) =>
        Result(StatusCodes.Status404NotFound, "Server not found", $"no server \"{name}\" with that version in this registry", withError: true);
}
