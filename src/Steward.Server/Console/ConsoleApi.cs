using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.AdminConsole;

/// <summary>An admin API answer: its status and body (JSON, or a problem).</summary>
internal sealed record ApiAnswer(int Status, byte[] Body)
{
    public bool Ok => Status is >= 200 and < 300;

    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

    public string Text => Encoding.UTF8.GetString(Body);

    /// <summary>The problem's detail and its items (path or location, message, hint), when the answer is a problem.</summary>
    public (string Detail, IReadOnlyList<ProblemItem> Items) Problem()
    {
        if (Ok || Body.Length == 0)
        {
            return ("", []);
        }

        try
        {
            return JsonSerializer.Deserialize(Body, ServerJsonContext.Default.ProblemBody) is { } problem ? ConsoleProblems.Describe(problem) : ($"refused ({Status})", []);
        }
        catch (JsonException)
        {
            return ($"refused ({Status})", []);
        }
    }
}

/// <summary>
/// Calls an admin API handler in-process, as the console's signed-in admin: the same validation, transaction, audit row
/// and revision as a request to <c>/api/v1/orgs/{org}/…</c> with that admin's token. The console has no write path of its own.
/// Only for what is not yet an operation the page calls directly: the registry page's list and a server's versions (the
/// Registry API's cached reads) and the registry import. Every other feature's endpoint is a thin adapter over its
/// operation (<c>ProfileOperations</c>, <c>TokenOperations</c>, <c>AccountOperations</c>, <c>EmergencyStopOperations</c>,
/// <c>SandboxOperations</c>, <c>RegistryOperations</c>, <c>ExternalRegistryOperations</c>, <c>ModelPolicyOperations</c>,
/// <c>ExportOperations</c>), which the pages call.
/// </summary>
internal static class ConsoleApi
{
    public static async Task<ApiAnswer> CallAsync(
        HttpContext outer,
        Caller caller,
        Organisation organisation,
        Func<HttpContext, Task<IResult>> handler,
        string method = "GET",
        object? body = null,
        IReadOnlyDictionary<string, string>? route = null,
        QueryString query = default)
    {
        ArgumentNullException.ThrowIfNull(outer);
        ArgumentNullException.ThrowIfNull(handler);
        var context = new DefaultHttpContext { RequestServices = outer.RequestServices, RequestAborted = outer.RequestAborted };
        context.Request.Method = method;
        context.Request.Scheme = outer.Request.Scheme;
        context.Request.Host = outer.Request.Host;
        context.Request.QueryString = query;
        var bytes = body switch
        {
            null => [],
            byte[] raw => raw,
            string text => Encoding.UTF8.GetBytes(text),
            JsonNode node => Encoding.UTF8.GetBytes(node.ToJsonString()),
            _ => throw new ArgumentException("the body is bytes, text or a JSON node", nameof(body)),
        };
        context.Request.Body = new MemoryStream(bytes, writable: false);
        context.Request.ContentLength = bytes.Length;
        context.Request.ContentType = "application/json";
        context.Request.RouteValues["org"] = organisation.Slug;
        foreach (var (key, value) in route ?? new Dictionary<string, string>())
        {
            context.Request.RouteValues[key] = value;
        }

        context.Items[typeof(Caller)] = caller;
        context.Items[typeof(Organisation)] = organisation;
        using var response = new MemoryStream();
        context.Response.Body = response;
        IResult result;
        try
        {
            result = await handler(context).ConfigureAwait(false);
        }
        finally
        {
            // The page may read what it just changed, within the same console request.
            if (!HttpMethods.IsGet(method))
            {
                outer.RequestServices.GetRequiredService<LocalChanges>().Changed();
            }
        }

        await result.ExecuteAsync(context).ConfigureAwait(false);
        return new ApiAnswer(context.Response.StatusCode, response.ToArray());
    }
}

internal static class ConsoleProblems
{
    /// <summary>What the console shows of a problem: its detail (else its title) and its items (path or location, message, hint).</summary>
    public static (string Detail, IReadOnlyList<ProblemItem> Items) Describe(ProblemBody problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return (problem.Detail ?? problem.Title, problem.Errors ?? []);
    }
}
