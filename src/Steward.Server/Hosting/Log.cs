using Microsoft.Extensions.Logging;

namespace Steward.Server.Hosting;

/// <summary>The server's log events, with stable ids. Never a token, a header value or a request body.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Steward server listening on {Urls}; data in {Database}")]
    public static partial void Listening(ILogger logger, string urls, string database);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Applied schema migrations {Versions}")]
    public static partial void Migrated(ILogger logger, string versions);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "First start: created organisation {Organisation} with its demo registry and a bootstrap admin token")]
    public static partial void Seeded(ILogger logger, string organisation);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Steward server stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "{Count} admin token(s) that never expire are still valid (the bootstrap token is one): create named admin tokens with an expiry and revoke them")]
    public static partial void TokensWithoutExpiry(ILogger logger, long count);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Error, Message = "Unhandled error answering {Method} {Path}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Readiness check failed: {Reason}")]
    public static partial void NotReady(ILogger logger, string reason);
}
