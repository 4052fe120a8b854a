using Steward.Core.Json;

namespace Steward.Server.Http;

/// <summary>
/// The one way a request body is read as JSON: Core's strict reader (<see cref="StrictJson"/>), so that bytes that are
/// not UTF-8, a <c>\uD800</c> with no pair, a duplicate key or a syntax error is a 400 naming where it is
/// (<c>$.name: …</c>), never an exception later when a handler reads the string.
/// </summary>
internal static class RequestJson
{
    /// <summary>
    /// The body parsed (the caller disposes the document), or null and the 400 to answer. <paramref name="maxDepth"/>
    /// is the nesting allowed; the size was checked when the body was read.
    /// </summary>
    public static JsonDocument? Parse(ReadOnlyMemory<byte> body, out IResult? refused, int maxDepth = JsonLimits.DefaultMaxDepth)
    {
        var parsed = StrictJson.Parse(body, new JsonLimits { MaxBytes = Math.Max(body.Length, 1), MaxDepth = maxDepth });
        if (parsed.Failure is { } failure)
        {
            refused = Refused(failure);
            return null;
        }

        if (parsed.Duplicates is [var duplicate, ..])
        {
            parsed.Document?.Dispose();
            var at = duplicate.Path.Length == 0 ? "$" : duplicate.Path[0] == '[' ? "$" + duplicate.Path : "$." + duplicate.Path;
            refused = Problems.Result(StatusCodes.Status400BadRequest, "Bad Request", $"the body is not acceptable JSON: {at}: {duplicate.Message}; {duplicate.Hint}",
                [new ProblemItem { Location = Location(duplicate.Path), Path = at, Rule = duplicate.Rule, Message = duplicate.Message, Hint = duplicate.Hint }]);
            return null;
        }

        refused = null;
        return parsed.Document;
    }

    /// <summary>
    /// Checks only that every string of a body is Unicode (for a body passed on byte for byte, which is not parsed
    /// into a document): null when it is, else why not, with the path.
    /// </summary>
    public static ReadFailure? CheckText(ReadOnlySpan<byte> body) => StrictJson.CheckText(body);

    /// <summary>400 for a body that cannot be read: the failure with its path and position.</summary>
    public static IResult Refused(ReadFailure failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return Problems.Result(StatusCodes.Status400BadRequest, "Bad Request", "the body is not acceptable JSON: " + failure,
            failure.Path is { } path ? [new ProblemItem { Location = Location(path), Path = failure.DollarPath, Message = failure.Message }] : null);
    }

    /// <summary>Where a body path is, as problems name it: <c>body</c>, <c>body.name</c>, <c>body[0].tool</c>.</summary>
    public static string Location(string path) => path.Length == 0 ? "body" : path[0] == '[' ? "body" + path : "body." + path;
}
