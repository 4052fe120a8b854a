using Steward.Agent.Gateway;

namespace Steward.Agent.Tests.Gateway;

/// <summary>The gateway's log writes one line per event, whatever the text it is given.</summary>
public sealed class GatewayLoggingTests
{
    [Fact]
    public void Line_breaks_and_control_characters_are_escaped_and_plain_text_is_kept()
    {
        Assert.Equal("method 'tools/list' ok\tdone", GatewayLogging.OneLine("method 'tools/list' ok\tdone"));
        Assert.Equal("x\\n2026-01-01T00:00:00.000Z info forged\\r\\u0000\\u001b[31m\\u0085\\u2028é✓",
            GatewayLogging.OneLine("x\n2026-01-01T00:00:00.000Z info forged\r\u0000\u001b[31m\u0085\u2028é✓"));
    }

    [Fact]
    public void A_long_text_is_cut_with_a_count_of_the_rest_without_splitting_a_surrogate_pair()
    {
        var text = new string('m', GatewayLogging.MaxText + 10);
        Assert.Equal(new string('m', GatewayLogging.MaxText) + "… (10 more characters)", GatewayLogging.OneLine(text));

        var emoji = new string('a', GatewayLogging.MaxText - 1) + "😀" + "b";
        var cut = GatewayLogging.OneLine(emoji);
        Assert.Equal(new string('a', GatewayLogging.MaxText - 1) + "… (3 more characters)", cut);

        var path = Path.Combine(Path.GetTempPath(), "steward-log-" + Guid.NewGuid().ToString("N")[..12], "steward.log");
        using (var logging = new GatewayLogging(stderr: null, path))
        {
            Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(logging.CreateLogger("Steward.Gateway"), "first\nsecond {Name}", "third\r\nfourth");
        }

        var line = Assert.Single(File.ReadAllLines(path));
        Assert.EndsWith("warn Gateway[0] first\\nsecond third\\r\\nfourth", line, StringComparison.Ordinal);
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [Fact]
    public void Gateways_writing_one_log_file_at_once_never_tear_each_others_lines()
    {
        // Each GatewayLogging opens the file on its own, as each gateway process does (its own offset, its own buffer).
        var path = Path.Combine(Path.GetTempPath(), "steward-log-" + Guid.NewGuid().ToString("N")[..12], "steward.log");
        const int writers = 4;
        const int lines = 1500;
        var loggings = Enumerable.Range(0, writers).Select(_ => new GatewayLogging(stderr: null, path)).ToList();
        using var start = new Barrier(writers);
        var threads = loggings.Select((logging, w) => new Thread(() =>
        {
            var logger = logging.CreateLogger("Steward.Gateway");
            start.SignalAndWait();
            for (var i = 0; i < lines; i++)
            {
                Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(logger, "writer {Writer} line {Line} {Padding}", w, i, new string((char)('a' + w), 64));
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        loggings.ForEach(l => l.Dispose());

        var written = File.ReadAllLines(path);
        Assert.Equal(writers * lines, written.Length);
        for (var w = 0; w < writers; w++)
        {
            var mine = written.Where(l => l.Contains($"writer {w} line ", StringComparison.Ordinal)).ToList();
            Assert.Equal(lines, mine.Count);
            Assert.All(mine, l => Assert.EndsWith(" " + new string((char)('a' + w), 64), l, StringComparison.Ordinal));
        }

        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }
}
