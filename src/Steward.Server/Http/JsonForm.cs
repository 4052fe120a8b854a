using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Steward.Server.Hosting;

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

    public static IResult Invalid(string field, string message, string? value) =>
        Problems.Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", $"{field}: {message}",
            [new ProblemItem { Location = "body." + field, Message = message, Value = value }]);

    public static bool TryInteger(JsonElement value, out long result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out result);
    }
}
