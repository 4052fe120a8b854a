using System.Buffers;
using System.Text;
using System.Text.Json;
using Steward.Core.Audit;

namespace Steward.Core.Tests.Audit;

public class HashChainTests
{
    private static List<string> Log(int count)
    {
        var lines = new List<string>();
        var previous = HashChain.Genesis;
        for (var i = 0; i < count; i++)
        {
            var (line, hash) = JsonlChain.Seal($$"""{"at": "2025-01-01T00:00:0{{i}}Z", "server": "s{{i}}", "tool": "t", "decision": "allow", "n": {{i}}}""", previous);
            lines.Add(line);
            previous = hash;
        }

        return lines;
    }

    private static JsonlVerification Verify(IEnumerable<string> lines) => JsonlChain.Verify(new StringReader(string.Join("\n", lines) + "\n"));

    [Fact]
    public void Canonical_json_sorts_members_drops_whitespace_and_keeps_numbers_as_written()
    {
        var canonical = HashChain.Canonical(Encoding.UTF8.GetBytes("""{ "b": [1, 2.50, {"z": true, "a": null}], "a": "x\u00e9\n\"" }"""));

        Assert.Equal("{\"a\":\"xé\\n\\\"\",\"b\":[1,2.50,{\"a\":null,\"z\":true}]}", canonical);
        Assert.Equal(canonical, HashChain.Canonical(Encoding.UTF8.GetBytes("""{"a":"x\u00e9\n\"","b":[1,2.50,{"a":null,"z":true}]}""")));
    }

    [Fact]
    public void Canonical_json_escapes_only_quote_backslash_and_control_characters_and_orders_names_by_utf16_code_units()
    {
        // U+FF01 sorts after the emoji in UTF-16 code units (0xFF01 > 0xD83D) though its UTF-8 (EF) is before the emoji's (F0).
        var text = "{\"\uFF01\":1,\"\uD83D\uDE00\":2,\"z\":\"a\\u0001b\\b\\f\\t\\r\\\\/\u00e9\",\"e\":-0.0E+2}";

        var canonical = HashChain.Canonical(Encoding.UTF8.GetBytes(text));

        Assert.Equal("{\"e\":-0.0E+2,\"z\":\"a\\u0001b\\b\\f\\t\\r\\\\/\u00e9\",\"\uD83D\uDE00\":2,\"\uFF01\":1}", canonical);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(HashChain.Genesis + canonical)));
        Assert.Equal(hash, JsonlChain.Seal(text, HashChain.Genesis).Hash);
    }

    [Fact]
    public void Sealing_bytes_gives_the_line_and_hash_that_sealing_text_gives()
    {
        const string record = """{"at":"2025-01-01T00:00:00Z","server":"s","tool":"t\n\u00e9","arguments":{"b":[1,{"y":null,"x":true}],"a":"\ud83d\ude00"}}""";
        var previous = new string('a', 64);
        var line = new ArrayBufferWriter<byte>();
        line.Write("\n"u8);

        var hash = JsonlChain.Seal(Encoding.UTF8.GetBytes(" " + record + "\n"), previous, line);

        var (expectedLine, expectedHash) = JsonlChain.Seal(record, previous);
        Assert.Equal(expectedHash, hash);
        Assert.Equal("\n" + expectedLine, Encoding.UTF8.GetString(line.WrittenSpan));
        Assert.Equal(HashChain.Link(previous, HashChain.Canonical(Encoding.UTF8.GetBytes(record))), hash);
        Assert.Throws<FormatException>(() => JsonlChain.Seal(Encoding.UTF8.GetBytes("""{"a":1,"a":2}"""), previous, line));
        Assert.Throws<FormatException>(() => JsonlChain.Seal(Encoding.UTF8.GetBytes("[1]"), previous, line));
    }

    [Fact]
    public void The_link_is_sha256_of_the_previous_hash_then_the_canonical_record()
    {
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(HashChain.Genesis + "{\"a\":1}")));

        Assert.Equal(expected, HashChain.Link(HashChain.Genesis, "{\"a\":1}"));
    }

    [Fact]
    public void A_sealed_log_verifies_and_its_head_is_the_last_hash()
    {
        var lines = Log(5);

        var result = Verify(lines);

        Assert.True(result.Intact);
        Assert.Equal(5, result.Records);
        Assert.Equal(JsonlChain.HeadOf(lines), result.Head);
        using var last = JsonDocument.Parse(lines[^1]);
        Assert.Equal(JsonDocument.Parse(lines[^2]).RootElement.GetProperty("hash").GetString(), last.RootElement.GetProperty("prevHash").GetString());
    }

    [Fact]
    public void A_changed_record_breaks_at_its_own_line()
    {
        var lines = Log(5);
        lines[2] = lines[2].Replace("\"decision\": \"allow\"", "\"decision\": \"deny\"", StringComparison.Ordinal);

        var result = Verify(lines);

        Assert.Equal(3, result.BrokenLine);
        Assert.Contains("the record was changed", result.Reason, StringComparison.Ordinal);
        Assert.Equal(2, result.Records);
    }

    [Fact]
    public void Reformatting_a_line_without_changing_its_content_keeps_the_chain()
    {
        var lines = Log(3);
        using var document = JsonDocument.Parse(lines[1]);
        lines[1] = JsonSerializer.Serialize(document.RootElement, new JsonSerializerOptions { WriteIndented = false }).Replace(",", ", ", StringComparison.Ordinal);

        Assert.True(Verify(lines).Intact);
    }

    [Fact]
    public void A_deleted_record_breaks_at_the_line_after_it()
    {
        var lines = Log(5);
        lines.RemoveAt(2);

        var result = Verify(lines);

        Assert.Equal(3, result.BrokenLine);
        Assert.Contains("deleted, inserted or moved", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_records_swapped_break_at_the_first_of_them()
    {
        var lines = Log(5);
        (lines[1], lines[2]) = (lines[2], lines[1]);

        Assert.Equal(2, Verify(lines).BrokenLine);
    }

    [Fact]
    public void Removing_the_first_record_is_seen_because_the_chain_must_start_from_genesis()
    {
        var lines = Log(3);
        lines.RemoveAt(0);

        var result = Verify(lines);

        Assert.Equal(1, result.BrokenLine);
        Assert.Contains("records before it were removed", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_line_without_hashes_or_not_json_breaks_the_chain_there()
    {
        var lines = Log(3);
        var noHash = lines.ToList();
        noHash.Insert(1, """{"server": "x"}""");
        var garbage = lines.ToList();
        garbage.Insert(2, "not json");

        Assert.Equal(2, Verify(noHash).BrokenLine);
        Assert.Contains("has no prevHash", Verify(noHash).Reason, StringComparison.Ordinal);
        Assert.Equal(3, Verify(garbage).BrokenLine);
    }

    [Fact]
    public void The_sequence_verifier_names_the_index_of_the_first_broken_link()
    {
        var records = new List<(string, string?, string?)>();
        var previous = HashChain.Genesis;
        foreach (var canonical in new[] { "{\"a\":1}", "{\"a\":2}", "{\"a\":3}" })
        {
            var hash = HashChain.Link(previous, canonical);
            records.Add((canonical, previous, hash));
            previous = hash;
        }

        Assert.Null(HashChain.Verify(records));
        records[1] = ("{\"a\":20}", records[1].Item2, records[1].Item3);
        Assert.Equal(1, HashChain.Verify(records)!.Index);
    }
}
