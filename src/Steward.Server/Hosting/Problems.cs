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
        Of(Body(status, title, detail, errors, withError));

    /// <summary>The problem itself, for an operation to answer (the API writes it with <see cref="Of"/>, the console shows it).</summary>
    public static ProblemBody Body(int status, string title, string? detail = null, IReadOnlyList<ProblemItem>? errors = null, bool withError = false) =>
        new() { Title = title, Status = status, Detail = detail, Errors = errors, Error = withError ? title : null };

    /// <summary>A problem as the API's answer: <c>application/problem+json</c> with its status.</summary>
    public static IResult Of(ProblemBody problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return Results.Json(problem, ServerJsonContext.Default.ProblemBody, ContentType, problem.Status);
    }

    /// <summary>The problem a result of <see cref="Result"/> or <see cref="Of"/> carries (a handler's shared refusal, shown by an operation's caller).</summary>
    public static ProblemBody BodyOf(IResult problem) =>
        (problem as IValueHttpResult<ProblemBody>)?.Value ?? throw new ArgumentException("the result is not a problem", nameof(problem));

    /// <summary>A query parameter out of range or of the wrong type: 422, naming the parameter.</summary>
    public static IResult Query(string parameter, string message, string? value) =>
        Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", $"query parameter {parameter}: {message}",
            [new ProblemItem { Location = "query." + parameter, Message = message, Value = value }]);

    public static IResult BadRequest(string detail) => Result(StatusCodes.Status400BadRequest, "Bad Request", detail);

    public static IResult ServerNotFound(string name) =>
        Result(StatusCodes.Status404NotFound, "Server not found", $"no server \"{name}\" with that version in this registry", withError: true);
}
