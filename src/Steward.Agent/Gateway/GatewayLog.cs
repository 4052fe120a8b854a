using Microsoft.Extensions.Logging;

namespace Steward.Agent.Gateway;

/// <summary>
/// The gateway's log events. Stable ids; never an argument value, a header value, an environment value or a whole
/// message: names, versions, reason codes and durations only.
/// </summary>
internal static partial class GatewayLog
{
    [LoggerMessage(1, LogLevel.Information, "Policy applied (revision {Revision}): {Running} server(s) to run, {Refused} refused")]
    public static partial void PolicyApplied(ILogger logger, string revision, int running, int refused);

    [LoggerMessage(2, LogLevel.Warning, "MCP is disabled: {Reason} {WhatToDo}")]
    public static partial void McpDisabled(ILogger logger, string reason, string whatToDo);

    [LoggerMessage(3, LogLevel.Warning, "Not starting \"{Server}\" ({ReasonCode}): {Message}")]
    public static partial void Refused(ILogger logger, string server, string reasonCode, string message);

    [LoggerMessage(4, LogLevel.Information, "Starting \"{Server}\" ({RegistryName} {Version}): {Command} {Args}")]
    public static partial void StartingLocal(ILogger logger, string server, string registryName, string version, string command, string args);

    [LoggerMessage(5, LogLevel.Information, "Connecting to \"{Server}\" ({RegistryName} {Version}) over {Transport} at {Host}")]
    public static partial void ConnectingRemote(ILogger logger, string server, string registryName, string version, string transport, string host);

    [LoggerMessage(6, LogLevel.Information, "\"{Server}\" is up ({ServerName} {ServerVersion}) in {Milliseconds} ms")]
    public static partial void Started(ILogger logger, string server, string serverName, string serverVersion, long milliseconds);

    [LoggerMessage(7, LogLevel.Error, "\"{Server}\" failed to start: {Message}")]
    public static partial void StartFailed(ILogger logger, string server, string message);

    [LoggerMessage(8, LogLevel.Information, "Stopping \"{Server}\": {Why}")]
    public static partial void Stopping(ILogger logger, string server, string why);

    [LoggerMessage(9, LogLevel.Warning, "\"{Server}\" exited")]
    public static partial void Exited(ILogger logger, string server);

    [LoggerMessage(10, LogLevel.Debug, "Tool call {Server}/{Tool}: {Verdict} ({Because}), {Outcome} in {Milliseconds} ms")]
    public static partial void ToolCall(ILogger logger, string server, string tool, string verdict, string because, string outcome, double milliseconds);

    [LoggerMessage(11, LogLevel.Warning, "Listing {What} of \"{Server}\" failed: {Message}")]
    public static partial void ListFailed(ILogger logger, string what, string server, string message);

    [LoggerMessage(12, LogLevel.Warning, "Forwarding {Method} to the host failed: {Message}")]
    public static partial void ForwardFailed(ILogger logger, string method, string message);

    [LoggerMessage(13, LogLevel.Debug, "\"{Server}\" stderr: {Line}")]
    public static partial void UpstreamStderr(ILogger logger, string server, string line);

    [LoggerMessage(14, LogLevel.Warning, "Two servers list the resource {Uri}; \"{Kept}\" serves it, \"{Dropped}\" is not reachable for it")]
    public static partial void ResourceClash(ILogger logger, string uri, string kept, string dropped);

    [LoggerMessage(15, LogLevel.Error, "The audit log could not be written: {Message}")]
    public static partial void AuditFailed(ILogger logger, string message);

    [LoggerMessage(16, LogLevel.Information, "\"{Name}\" speaks MCP revision {Revision}; starting it again in that revision")]
    public static partial void OtherRevision(ILogger logger, string name, string revision);

    [LoggerMessage(17, LogLevel.Warning, "\"{Server}\" sent a message of {Size} bytes, over the limit of {Limit}: not passed on (answer to request {Id})")]
    public static partial void Oversized(ILogger logger, string server, long size, long limit, string id);

    [LoggerMessage(18, LogLevel.Warning, "The list changes of \"{Server}\" are not heard: its subscriptions/listen stream ended ({Message})")]
    public static partial void ListenEnded(ILogger logger, string server, string message);
}
