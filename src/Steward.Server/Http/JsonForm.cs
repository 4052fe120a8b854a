using System.Text.Json.Nodes;

namespace Steward.Server.Http;

/// <summary>Reading a small JSON request body field by field, so that every problem names its field (422) and a body that is not JSON is a 400.</summary>
internal sealed class JsonForm
{
    private JsonForm(JsonElement root, IResult? problem)
    {
        Root = root;
        Problem = problem;
    }

    public JsonElement Root { get; }
    public IResult? Problem { get; }

    /// <summary>
    /// Reads the request body (at most <paramref name="maxBytes"/>, else a 413 problem) and <see cref="Parse"/>s it: what
    /// every handler taking a small JSON object does before it reads the object's fields.
    /// </summary>
    public static async Task<JsonForm> ReadAsync(HttpRequest request, int maxBytes, IReadOnlyCollection<string> known, CancellationToken cancellationToken)
    {
        var body = await RequestBodies.ReadAsync(request, maxBytes, cancellationToken).ConfigureAwait(false);
        return body is null ? new JsonForm(default, RequestBodies.TooLarge(maxBytes)) : Parse(body, known);
    }

    /// <summary>A body already read, as <see cref="ReadAsync"/> reads the request's: over <paramref name="maxBytes"/>, a 413 problem.</summary>
    public static JsonForm Parse(byte[] body, int maxBytes, IReadOnlyCollection<string> known)
    {
        ArgumentNullException.ThrowIfNull(body);
        return body.Length > maxBytes ? new JsonForm(default, RequestBodies.TooLarge(maxBytes)) : Parse(body, known);
    }

    /// <summary>A body the console built as JSON, read as <see cref="ReadAsync"/> reads a request's: the same limits and problems.</summary>
    public static JsonForm Parse(JsonNode body, int maxBytes, IReadOnlyCollection<string> known)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Parse(System.Text.Encoding.UTF8.GetBytes(body.ToJsonString()), maxBytes, known);
    }

    /// <summary>The body as a JSON object whose members are all among <paramref name="known"/>; else a problem naming what is wrong.</summary>
    public static JsonForm Parse(byte[] body, IReadOnlyCollection<string> known)
    {
        JsonElement root;
        using (var document = RequestJson.Parse(body, out var refused))
        {
            if (document is null)
            {
                return new JsonForm(default, refused);
            }

            root = document.RootElement.Clone();
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return new JsonForm(root, Problems.BadRequest("the body must be a JSON object"));
        }

        foreach (var member in root.EnumerateObject())
        {
            if (!known.Contains(member.Name))
            {
                return new JsonForm(root, Invalid(member.Name, $"unknown field; expected one of {string.Join(", ", known)}", null));
            }
        }

        return new JsonForm(root, null);
    }

    public static IResult Invalid(string field, string message, string? value) => Problems.Of(FieldProblem(field, message, value));

    /// <summary>The 422 naming <paramref name="field"/> of the body, as a problem an operation answers.</summary>
    public static ProblemBody FieldProblem(string field, string message, string? value) =>
        Problems.Body(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", $"{field}: {message}",
            [new ProblemItem { Location = "body." + field, Message = message, Value = value }]);

    public static bool TryInteger(JsonElement value, out long result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out result);
    }
}
