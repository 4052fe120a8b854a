using Steward.Core.Net;

namespace Steward.Core.Tests.Net;

public class BoundedReaderTests
{
    private static byte[] Bytes(int count) => [.. Enumerable.Range(0, count).Select(i => (byte)i)];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(200_000)]
    public async Task A_body_up_to_the_limit_is_read_whole_with_or_without_a_declared_length(int size)
    {
        var body = Bytes(size);

        Assert.Equal(body, await BoundedReader.ReadAsync(new MemoryStream(body), 200_000, null, CancellationToken.None));
        Assert.Equal(body, await BoundedReader.ReadAsync(new MemoryStream(body), 200_000, size, CancellationToken.None));
        Assert.Equal(body, await BoundedReader.ReadAsync(new Trickle(body.Length, chunk: 7), 200_000, null, CancellationToken.None));
    }

    [Fact]
    public async Task A_body_one_byte_over_the_limit_is_refused_having_read_no_more_than_that_byte()
    {
        var endless = new Trickle(long.MaxValue, chunk: 4096);

        Assert.Null(await BoundedReader.ReadAsync(endless, 100_000, null, CancellationToken.None));
        Assert.Equal(100_001, endless.Given);
        Assert.Null(await BoundedReader.ReadAsync(new MemoryStream(Bytes(101)), 100, null, CancellationToken.None));
    }

    [Fact]
    public async Task A_declared_length_over_the_limit_is_refused_before_a_byte_is_read()
    {
        var stream = new Trickle(10, chunk: 10);

        Assert.Null(await BoundedReader.ReadAsync(stream, 100, 101, CancellationToken.None));
        Assert.Equal(0, stream.Given);
    }

    [Fact]
    public async Task A_stream_that_gives_more_than_it_declared_is_refused_even_within_the_limit()
    {
        Assert.Null(await BoundedReader.ReadAsync(new MemoryStream(Bytes(50)), 100, 40, CancellationToken.None));
    }

    [Fact]
    public async Task A_stream_that_ends_before_its_declared_length_gives_what_it_had()
    {
        Assert.Equal(Bytes(30), await BoundedReader.ReadAsync(new MemoryStream(Bytes(30)), 100, 40, CancellationToken.None));
    }

    [Fact]
    public async Task A_negative_limit_is_a_programming_error() =>
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => BoundedReader.ReadAsync(new MemoryStream(), -1, null, CancellationToken.None));

    /// <summary>A read-only stream of <c>length</c> bytes handed out at most <c>chunk</c> at a time, counting what it gave.</summary>
    private sealed class Trickle(long length, int chunk) : Stream
    {
        public long Given { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Given; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(Math.Min(count, chunk), length - Given);
            for (var i = 0; i < n; i++)
            {
                buffer[offset + i] = (byte)(Given + i);
            }

            Given += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
