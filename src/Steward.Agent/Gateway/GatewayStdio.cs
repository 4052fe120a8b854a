using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace Steward.Agent.Gateway;

/// <summary>
/// The SDK's stream transport over the process's stdin and stdout, as <see cref="StdioServerTransport"/> builds it, except
/// that each message goes to stdout in one <c>write</c> on the sending thread.
/// </summary>
/// <remarks>
/// <see cref="StdioServerTransport"/> writes through a <see cref="BufferedStream"/> over the console stream, whose
/// asynchronous write and flush each run as a thread-pool work item (the console stream only writes synchronously): two
/// thread hops for every answer, on the path of every tool call. <see cref="StdoutStream"/> keeps what the SDK writes for
/// one message (the JSON, then the newline) and writes it on <c>FlushAsync</c>, which the SDK calls once per message under
/// its send lock. Reading is the SDK's: the console stream's read, cancellable.
/// </remarks>
public static class GatewayStdio
{
    public static StreamServerTransport CreateTransport(string serverName, ILoggerFactory? loggerFactory) =>
        new(new StdinStream(Console.OpenStandardInput()), new StdoutStream(Console.OpenStandardOutput()), serverName, loggerFactory);

    /// <summary>stdout: writes collect in a buffer, and a flush hands them to the operating system in one synchronous write.</summary>
    internal sealed class StdoutStream(Stream stdout) : Stream
    {
        private byte[] buffer = new byte[4096];
        private int length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> bytes)
        {
            if (length + bytes.Length > buffer.Length)
            {
                Array.Resize(ref buffer, Math.Max(buffer.Length * 2, length + bytes.Length));
            }

            bytes.CopyTo(buffer.AsSpan(length));
            length += bytes.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
            if (length == 0)
            {
                return;
            }

            try
            {
                stdout.Write(buffer, 0, length);
            }
            finally
            {
                length = 0;
                if (buffer.Length > 1 << 20)
                {
                    buffer = new byte[4096]; // one large answer does not keep a large buffer
                }
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                length = 0;
                return Task.FromCanceled(cancellationToken);
            }

            try
            {
                Flush();
                return Task.CompletedTask;
            }
            catch (IOException e)
            {
                return Task.FromException(e);
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                stdout.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>stdin as the SDK reads it: the console stream's read, which a shutdown can abandon.</summary>
    internal sealed class StdinStream(Stream stdin) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            stdin.ReadAsync(buffer, offset, count, cancellationToken).WaitAsync(cancellationToken);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = stdin.ReadAsync(buffer, cancellationToken);
            return read.IsCompletedSuccessfully ? read : new ValueTask<int>(read.AsTask().WaitAsync(cancellationToken));
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                stdin.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
