using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// A fuzz of the gateway's own input: <c>steward gateway --server everything</c> as a real process, its stdin fed lines
/// generated from a fixed seed (truncated messages, bytes replaced by others including invalid UTF-8, members of the
/// wrong type, unknown methods, huge ids, deep nesting, batches, responses nobody asked for). After each line a
/// <c>ping</c> must be answered, every line on stdout must be a JSON-RPC message, an unknown method with a valid id must
/// get <c>-32601</c>, every line of the log file is one event (a host's line breaks cannot forge one), and at the end a
/// tool call still works and closing stdin ends the gateway with exit code 0.
/// </summary>
public sealed class GatewayStdioFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20261121;
    private const int Lines = 400;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private static string Steward => Path.Combine(AppContext.BaseDirectory, "steward.dll");

    /// <summary>Well-formed messages the mutations start from (ids 1000 and up, never a probe's).</summary>
    private static readonly string[] Valid =
    [
        """{"jsonrpc":"2.0","id":1001,"method":"ping"}""",
        """{"jsonrpc":"2.0","id":1002,"method":"tools/list","params":{}}""",
        """{"jsonrpc":"2.0","id":1003,"method":"tools/call","params":{"name":"echo","arguments":{"message":"fuzz"}}}""",
        """{"jsonrpc":"2.0","id":1004,"method":"prompts/get","params":{"name":"args-prompt","arguments":{"city":"Ghent"}}}""",
        """{"jsonrpc":"2.0","id":1005,"method":"resources/read","params":{"uri":"demo://resource/dynamic/text/7"}}""",
        """{"jsonrpc":"2.0","id":"s-1006","method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"completable-prompt"},"argument":{"name":"department","value":"Eng"}}}""",
        """{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}""",
    ];

    private static readonly string[] WrongValues =
    [
        "{}", """{"a":[1,{"b":null}]}""", "[]", "[1,2]", "true", "false", "null", "1e400", "-0", "0.5", "123456789012345678901234567890",
        "\"\"", "\"\\u0000\"", "\"\\ud800\"", "-1", "9223372036854775808",
    ];

    [NodeFact]
    public async Task Malformed_json_rpc_lines_on_stdio_get_errors_or_are_ignored_and_never_stop_the_gateway()
    {
        var (dir, policy) = GatewayCommandTests.Setup();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = NodePackages.Root,
        };
        foreach (var arg in new[] { Steward, "gateway", "--server", "everything", "--policy", policy })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["STEWARD_CONFIG_DIR"] = dir;
        start.Environment["PATH"] = NodePackages.PathWith();
        start.Environment["npm_config_offline"] = "true";
        using var process = Process.Start(start)!;
        try
        {
            var stderr = new StringBuilder();
            var stderrDone = Task.Run(async () =>
            {
                while (await process.StandardError.ReadLineAsync() is { } line)
                {
                    lock (stderr)
                    {
                        stderr.AppendLine(line);
                    }
                }
            });

            // Everything the gateway writes, checked line by line; answers kept by id.
            var answers = new ConcurrentDictionary<string, JsonElement>(StringComparer.Ordinal);
            var notJson = new ConcurrentQueue<string>();
            var arrived = new SemaphoreSlim(0);
            var stdoutDone = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync() is { } line)
                {
                    try
                    {
                        var message = JsonDocument.Parse(line).RootElement.Clone();
                        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("jsonrpc", out var version) || version.GetString() != "2.0")
                        {
                            notJson.Enqueue(line);
                        }
                        else if (message.TryGetProperty("id", out var id) && (message.TryGetProperty("result", out _) || message.TryGetProperty("error", out _)))
                        {
                            answers[id.GetRawText()] = message;
                        }
                    }
                    catch (JsonException)
                    {
                        notJson.Enqueue(line);
                    }

                    arrived.Release();
                }
            });

            string Snapshot()
            {
                lock (stderr)
                {
                    return stderr.ToString();
                }
            }

            var stdin = process.StandardInput.BaseStream;
            async Task SendAsync(byte[] line)
            {
                await stdin.WriteAsync(line);
                await stdin.WriteAsync("\n"u8.ToArray());
                await stdin.FlushAsync();
            }

            async Task<JsonElement> AnswerAsync(string id)
            {
                var clock = Stopwatch.StartNew();
                while (!answers.ContainsKey(id))
                {
                    if (process.HasExited)
                    {
                        Assert.Fail($"the gateway exited ({process.ExitCode}) waiting for {id}:\n{Snapshot()}");
                    }

                    if (clock.Elapsed > Guard)
                    {
                        Assert.Fail($"no answer to {id}:\n{Snapshot()}");
                    }

                    await arrived.WaitAsync(TimeSpan.FromMilliseconds(200));
                }

                return answers[id];
            }

            await SendAsync(Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}"""));
            Assert.True((await AnswerAsync("\"init\"")).TryGetProperty("result", out _));
            await SendAsync(Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","method":"notifications/initialized"}"""));

            var random = new Random(Seed);
            var unknown = new List<string>();
            var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < Lines; i++)
            {
                var (kind, line, unknownId) = Generate(random, i);
                kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
                if (unknownId is not null)
                {
                    unknown.Add(unknownId);
                }

                await SendAsync(line);
                var probe = $"\"probe-{i}\"";
                await SendAsync(Encoding.UTF8.GetBytes($$"""{"jsonrpc":"2.0","id":{{probe}},"method":"ping"}"""));
                var pong = await AnswerAsync(probe);
                Assert.True(pong.TryGetProperty("result", out _), $"after {kind} line {i} ({Preview(line)}), ping got {pong}");
            }

            foreach (var id in unknown)
            {
                var answer = await AnswerAsync(id);
                Assert.Equal(-32601, answer.GetProperty("error").GetProperty("code").GetInt32());
            }

            foreach (var (id, answer) in answers)
            {
                if (answer.TryGetProperty("error", out var error))
                {
                    Assert.True(error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.Number && error.TryGetProperty("message", out var text) &&
                                text.ValueKind == JsonValueKind.String, $"not a JSON-RPC error object for {id}: {answer}");
                }
            }

            Assert.True(notJson.IsEmpty, "stdout lines that are not JSON-RPC messages:\n" + string.Join('\n', notJson.Take(5).Select(l => Preview(Encoding.UTF8.GetBytes(l)))));

            // A method name that would forge a line in the log if written as it is.
            await SendAsync(Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":"forge","method":"x\n2026-01-01T00:00:00.000Z info Gateway[1] forged\r\u2028\u0085"}"""));
            Assert.Equal(-32601, (await AnswerAsync("\"forge\"")).GetProperty("error").GetProperty("code").GetInt32());

            await SendAsync(Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":"last","method":"tools/call","params":{"name":"echo","arguments":{"message":"still here"}}}"""));
            Assert.Contains("Echo: still here", (await AnswerAsync("\"last\"")).GetRawText());

            process.StandardInput.Close();
            await process.WaitForExitAsync().WaitAsync(Guard);
            await Task.WhenAll(stdoutDone, stderrDone).WaitAsync(Guard);
            Assert.Equal(0, process.ExitCode);
            var log = Snapshot();
            // The runtime's crash report and Steward's own last-resort line; the SDK's per-request warnings are expected.
            Assert.DoesNotContain("Unhandled exception. ", log, StringComparison.Ordinal);
            Assert.DoesNotContain("steward: internal error", log, StringComparison.Ordinal);

            // One event, one line: every line of the log file is an event (time, level, category), none longer than the cut.
            var logLines = File.ReadAllLines(Path.Combine(dir, "steward.log"));
            Assert.NotEmpty(logLines);
            Assert.All(logLines, l => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trce|dbug|info|warn|fail|crit) \S+\[\d+\] ", l));
            Assert.DoesNotContain(logLines, l => l.StartsWith("2026-01-01T00:00:00.000Z", StringComparison.Ordinal));
            Assert.All(logLines, l => Assert.True(l.Length < 8 * 1024, $"a log line of {l.Length} characters"));

            var errors = answers.Values.Where(a => a.TryGetProperty("error", out _)).GroupBy(a => a.GetProperty("error").GetProperty("code").GetInt32())
                .OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}");
            output.WriteLine($"seed {Seed}, {Lines} lines: " + string.Join(", ", kinds.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}")));
            output.WriteLine($"answers with an error, by code: {string.Join(", ", errors)}; answers in all: {answers.Count} (including {Lines + 2} probes and the handshake)");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>One malformed line: its kind, its bytes (no newline inside), and the raw id of an unknown-method request that must get -32601.</summary>
    private static (string Kind, byte[] Line, string? UnknownId) Generate(Random random, int index)
    {
        var valid = Valid[random.Next(Valid.Length)];
        switch (random.Next(9))
        {
            case 0:
                return ("truncated", Encoding.UTF8.GetBytes(valid[..random.Next(1, valid.Length)]), null);
            case 1:
            {
                var bytes = Encoding.UTF8.GetBytes(valid);
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    var b = (byte)random.Next(256);
                    bytes[random.Next(bytes.Length)] = b is (byte)'\n' or (byte)'\r' ? (byte)0xFF : b;
                }

                return ("bytes replaced", bytes, null);
            }

            case 2:
            {
                // Invalid UTF-8 inside an otherwise valid message's string.
                var invalid = new[] { new byte[] { 0xC3, 0x28 }, [0xFF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF], [0xE2, 0x82] }[random.Next(6)];
                var text = Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":""" + (2000 + index) + ""","method":"tools/call","params":{"name":"echo","arguments":{"message":"a""");
                return ("invalid UTF-8", [.. text, .. invalid, .. "\"}}}"u8.ToArray()], null);
            }

            case 3:
            {
                var member = new[] { "id", "method", "params", "jsonrpc" }[random.Next(4)];
                var value = WrongValues[random.Next(WrongValues.Length)];
                using var document = JsonDocument.Parse(valid);
                var members = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText(), StringComparer.Ordinal);
                members[member] = value;
                return ("wrong type", Encoding.UTF8.GetBytes("{" + string.Join(',', members.Select(m => $"\"{m.Key}\":{m.Value}")) + "}"), null);
            }

            case 4:
            {
                var id = (3000 + index).ToString(CultureInfo.InvariantCulture);
                var names = new[] { "no/such", "tools/call2", "", "rpc.discover", "ünïcode/✓", new string('m', 10_000), "notifications/but-with-id" };
                var name = names[random.Next(names.Length)];
                return ("unknown method", Encoding.UTF8.GetBytes($$"""{"jsonrpc":"2.0","id":{{id}},"method":{{JsonSerializer.Serialize(name)}}}"""), id);
            }

            case 5:
            {
                var id = random.Next(3) switch
                {
                    0 => new string('9', random.Next(20, 5000)),
                    1 => JsonSerializer.Serialize(new string('x', random.Next(1000, 200_000))),
                    _ => "-" + new string('1', random.Next(20, 400)) + "e" + random.Next(300, 100_000),
                };
                return ("huge id", Encoding.UTF8.GetBytes($$"""{"jsonrpc":"2.0","id":{{id}},"method":"ping"}"""), null);
            }

            case 6:
            {
                var depth = random.Next(65, 20_000);
                var open = random.Next(2) == 0 ? "[" : "{\"a\":";
                var close = open == "[" ? "]" : "}";
                return ("deep nesting", Encoding.UTF8.GetBytes($$"""{"jsonrpc":"2.0","id":{{4000 + index}},"method":"ping","params":{"x":""" + string.Concat(Enumerable.Repeat(open, depth)) + "1" +
                                                              string.Concat(Enumerable.Repeat(close, depth)) + "}}"), null);
            }

            case 7:
            {
                var line = new[]
                {
                    "", "   ", "null", "42", "\"text\"", "[]", "[" + valid + "]", "[" + valid + "," + valid + "]", "\uFEFF" + valid, valid + valid, valid + " trailing",
                    """{"jsonrpc":"2.0","id":5001,"result":{}}""", """{"jsonrpc":"2.0","id":"nobody","error":{"code":-1,"message":"x"}}""",
                    """{"jsonrpc":"2.0","id":5002,"method":"notifications/cancelled","params":{"requestId":"probe-0"}}""",
                    """{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"x":1}}}""",
                    """{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":[],"progress":"x"}}""",
                }[random.Next(16)];
                return ("shape", Encoding.UTF8.GetBytes(line), null);
            }

            default:
            {
                var length = random.Next(1, 2000);
                var bytes = new byte[length];
                random.NextBytes(bytes);
                for (var i = 0; i < bytes.Length; i++)
                {
                    if (bytes[i] is (byte)'\n' or (byte)'\r')
                    {
                        bytes[i] = (byte)' ';
                    }
                }

                return ("random bytes", bytes, null);
            }
        }
    }

    private static string Preview(byte[] line) => line.Length <= 120 ? Convert.ToHexString(line.AsSpan(0, Math.Min(line.Length, 60))) + " " + Encoding.UTF8.GetString(line) : Encoding.UTF8.GetString(line.AsSpan(0, 120)) + "…";
}
