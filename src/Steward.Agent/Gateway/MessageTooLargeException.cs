using ModelContextProtocol;

namespace Steward.Agent.Gateway;

/// <summary>An upstream's answer past the gateway's message limit (<see cref="BoundedLineStream"/>): the host gets this error instead.</summary>
public sealed class MessageTooLargeException : McpProtocolException
{
    public MessageTooLargeException(string message, long size) : base(message, McpErrorCode.InternalError) => Size = size;

    public MessageTooLargeException()
    {
    }

    public MessageTooLargeException(string message) : base(message)
    {
    }

    public MessageTooLargeException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>The answer's size, in bytes.</summary>
    public long Size { get; }
}
