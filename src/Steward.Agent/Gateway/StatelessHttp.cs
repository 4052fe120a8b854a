using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

// Logging and resource subscriptions are named here only to refuse them on the 2026-07-28 path (MCP9005 flags their deprecation).
#pragma warning disable MCP9005

namespace Steward.Agent.Gateway;

/// <summary>
/// The HTTP rules of MCP revision 2026-07-28 for a POST the gateway serves without a session: the revision in
/// <c>MCP-Protocol-Version</c> and in the body's <c>_meta</c> agree, <c>Mcp-Method</c> and <c>Mcp-Name</c> say what the
/// body says, the request carries its client capabilities, and the methods the revision removed are not found.
/// </summary>
/// <remarks>
/// The gateway applies policy to what a request names, so a header that disagrees with its body is refused
/// (<c>-32020</c>) rather than trusted, as the revision asks of intermediaries. A refusal is an HTTP status and a
/// JSON-RPC error that carries the request's id.
/// </remarks>
internal static class StatelessHttp
{
    private const string ProtocolVersionHeader = "MCP-Protocol-Version";
    private const string MethodHeader = "Mcp-Method";
    private const string NameHeader = "Mcp-Name";

    /// <summary>Revisions served without a session.</summary>
    public static IReadOnlyList<string> Revisions { get; } = [Gateway.StatelessRevision];

    /// <summary>Every revision the HTTP front speaks: the stateless ones and those of the <c>initialize</c> handshake.</summary>
    public static IReadOnlyList<string> AllRevisions { get; } = [.. Revisions, Gateway.LatestRevision, .. Gateway.OlderRevisions];

    /// <summary>A refusal: the HTTP status and the JSON-RPC error to answer with.</summary>
    public sealed record Refusal(int Status, JsonRpcErrorDetail Error);

    /// <summary>True when the POST speaks a stateless revision (by its header or its body's <c>_meta</c>).</summary>
    public static bool IsStateless(IHeaderDictionary headers, JsonRpcMessage message) =>
        Gateway.IsStatelessRevision(headers[ProtocolVersionHeader].ToString()) ||
        Gateway.IsStatelessRevision(MetaVersion(message));

    /// <summary>Why the POST is refused before it reaches the gateway's MCP server, or null when it may go on.</summary>
    public static Refusal? Check(IHeaderDictionary headers, JsonRpcMessage message)
    {
        var header = headers[ProtocolVersionHeader].ToString();
        if (header.Length > 0 && !AllRevisions.Contains(header, StringComparer.Ordinal))
        {
            return new Refusal(StatusCodes.Status400BadRequest, new JsonRpcErrorDetail
            {
                Code = (int)McpErrorCode.UnsupportedProtocolVersion,
                Message = $"Bad Request: MCP-Protocol-Version '{header}' is not a revision the gateway speaks ({string.Join(", ", AllRevisions)}).",
                Data = JsonSerializer.SerializeToNode(new UnsupportedProtocolVersionErrorData { Supported = [.. Revisions], Requested = header },
                    McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(UnsupportedProtocolVersionErrorData))),
            });
        }

        if (message is not (JsonRpcRequest or JsonRpcNotification) || !IsStateless(headers, message))
        {
            return null;
        }

        var (method, parameters) = message switch
        {
            JsonRpcRequest r => (r.Method, r.Params as JsonObject),
            JsonRpcNotification n => (n.Method, n.Params as JsonObject),
            _ => (null, null),
        };
        var meta = MetaVersion(message);
        if (header.Length == 0)
        {
            return Mismatch($"the body's _meta names revision '{meta}', so the MCP-Protocol-Version header is required");
        }

        // A notification (notifications/cancelled) has no one to read an error: only requests must carry their _meta.
        if (message is JsonRpcRequest && meta is null)
        {
            return Invalid($"requests of revision '{header}' carry _meta/{MetaKeys.ProtocolVersion}");
        }

        if (meta is not null && !string.Equals(meta, header, StringComparison.Ordinal))
        {
            return Mismatch($"MCP-Protocol-Version '{header}' differs from the body's _meta/{MetaKeys.ProtocolVersion} '{meta}'");
        }

        if (headers[MethodHeader].ToString().Trim() is var said && said.Length == 0)
        {
            return Mismatch("the Mcp-Method header is required");
        }
        else if (!string.Equals(said, method, StringComparison.Ordinal))
        {
            return Mismatch($"the Mcp-Method header '{said}' differs from the body's method '{method}'");
        }

        if (NameField(method) is { } field)
        {
            var named = parameters?[field] is JsonValue v && v.TryGetValue(out string? text) ? text : null;
            var nameHeader = headers[NameHeader].ToString();
            if (nameHeader.Length == 0)
            {
                return Mismatch($"the Mcp-Name header is required for {method}");
            }

            var decoded = McpHeaderEncoder.DecodeValue(nameHeader.Trim());
            if (!string.Equals(decoded, named, StringComparison.Ordinal))
            {
                return Mismatch($"the Mcp-Name header '{decoded}' differs from the body's params.{field} '{named}'");
            }
        }

        if (message is JsonRpcRequest request)
        {
            if (parameters?["_meta"]?[MetaKeys.ClientCapabilities] is not JsonObject)
            {
                return Invalid($"requests of revision '{header}' carry _meta/{MetaKeys.ClientCapabilities} as a JSON object");
            }

            if (request.Method is RequestMethods.Initialize or RequestMethods.Ping or RequestMethods.LoggingSetLevel
                or RequestMethods.ResourcesSubscribe or RequestMethods.ResourcesUnsubscribe)
            {
                return new Refusal(StatusCodes.Status404NotFound, new JsonRpcErrorDetail
                {
                    Code = (int)McpErrorCode.MethodNotFound,
                    Message = $"'{request.Method}' is not a method of revision '{header}'.",
                });
            }
        }

        return null;
    }

    /// <summary>The HTTP status for an error the gateway's MCP server answers a stateless request with (null: 200).</summary>
    public static int? StatusFor(JsonRpcMessage? answer) => answer is JsonRpcError { Error.Code: var code }
        ? (McpErrorCode)code switch
        {
            McpErrorCode.MethodNotFound => StatusCodes.Status404NotFound,
            McpErrorCode.MissingRequiredClientCapability or McpErrorCode.UnsupportedProtocolVersion or McpErrorCode.HeaderMismatch => StatusCodes.Status400BadRequest,
            _ => null,
        }
        : null;

    /// <summary>The body field <c>Mcp-Name</c> mirrors for <paramref name="method"/>, or null when it has none.</summary>
    private static string? NameField(string? method) => method switch
    {
        RequestMethods.ToolsCall or RequestMethods.PromptsGet => "name",
        RequestMethods.ResourcesRead => "uri",
        "tasks/get" or "tasks/update" or "tasks/cancel" => "taskId",
        _ => null,
    };

    private static string? MetaVersion(JsonRpcMessage message)
    {
        var parameters = message switch
        {
            JsonRpcRequest r => r.Params,
            JsonRpcNotification n => n.Params,
            _ => null,
        };
        return parameters is JsonObject p && p["_meta"] is JsonObject meta && meta[MetaKeys.ProtocolVersion] is JsonValue value &&
               value.TryGetValue(out string? text) && text.Length > 0
            ? text
            : null;
    }

    private static Refusal Mismatch(string why) =>
        new(StatusCodes.Status400BadRequest, new JsonRpcErrorDetail { Code = (int)McpErrorCode.HeaderMismatch, Message = $"Bad Request: {why}." });

    private static Refusal Invalid(string why) =>
        new(StatusCodes.Status400BadRequest, new JsonRpcErrorDetail { Code = (int)McpErrorCode.InvalidParams, Message = $"Bad Request: {why}." });
}
