using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Core.Tests.Registry;

public class ReaderTests
{
    private static ReadResult Read(string json, RegistryShape? shape = null) =>
        RegistryReader.Read(System.Text.Encoding.UTF8.GetBytes(json), shape);

    [Fact]
    public void A_lone_object_is_read_as_one_server_json()
    {
        var result = Read("""{"name":"io.github.a/b","description":"d","version":"1.0.0"}""");
        Assert.True(result.IsReadable);
        Assert.Equal(RegistryShape.ServerJson, result.Document!.Shape);
        Assert.Equal("io.github.a/b", Assert.Single(result.Document.Entries).Server.Name);
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void An_array_is_read_as_the_seed_format()
    {
        var result = Read("""[{"name":"io.github.a/b","description":"d","version":"1.0.0"},{"server":{"name":"io.github.a/c","description":"d","version":"1"},"_meta":{}}]""");
        Assert.Equal(RegistryShape.ServerJsonArray, result.Document!.Shape);
        Assert.Equal(["[0]", "[1].server"], result.Document.Entries.Select(e => e.Path));
    }

    [Fact]
    public void A_servers_object_with_slashed_names_is_a_registry_api_page()
    {
        var result = Read("""{"servers":[{"server":{"name":"io.github.a/b","description":"d","version":"1.0.0"}}],"metadata":{"nextCursor":"io.github.a/b:1.0.0","count":1}}""");
        Assert.Equal(RegistryShape.RegistryApiPage, result.Document!.Shape);
        Assert.Equal("io.github.a/b:1.0.0", result.Document.NextCursor);
    }

    [Fact]
    public void A_servers_object_with_flat_names_is_a_kiro_file()
    {
        var result = RegistryReader.Read(File.ReadAllBytes(FixturePaths.Kiro));
        Assert.Equal(RegistryShape.KiroFile, result.Document!.Shape);
        Assert.Equal(2, result.Document.Entries.Count);
    }

    [Fact]
    public void Wrong_types_and_missing_fields_are_all_reported_with_their_paths()
    {
        var result = Read("""{"name":5,"version":"1.0.0","packages":[{"registryType":"npm","transport":"stdio"}],"icons":"x"}""");
        var paths = result.Problems.Select(p => p.Path).ToList();
        Assert.Contains("name", paths);
        Assert.Contains("description", paths);
        Assert.Contains("packages[0].identifier", paths);
        Assert.Contains("packages[0].transport", paths);
        Assert.Contains("icons", paths);
    }

    [Fact]
    public void Duplicate_keys_are_errors_with_path_and_line()
    {
        var result = Read("{\n\"name\":\"io.github.a/b\",\n\"description\":\"d\",\n\"version\":\"1\",\n\"name\":\"io.github.a/c\"}");
        var problem = Assert.Single(result.Problems);
        Assert.Equal("json.duplicate-key", problem.Rule);
        Assert.Equal("name", problem.Path);
        Assert.Contains("line 5", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Syntax_errors_give_line_and_column()
    {
        var result = Read("{\n  \"name\": x\n}");
        Assert.Equal(ReadFailureKind.NotJson, result.Failure!.Kind);
        Assert.Equal(2, result.Failure.Line);
    }

    [Fact]
    public void Deep_nesting_is_refused()
    {
        var result = Read("{\"_meta\":" + new string('[', 200) + new string(']', 200) + "}");
        Assert.Equal(ReadFailureKind.TooDeep, result.Failure!.Kind);
    }

    [Fact]
    public void Documents_over_the_size_limit_are_refused_before_parsing()
    {
        var result = RegistryReader.Read(new byte[2048], limits: new JsonLimits { MaxBytes = 1024 });
        Assert.Equal(ReadFailureKind.TooLarge, result.Failure!.Kind);
    }

    [Fact]
    public void A_byte_order_mark_is_accepted()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(System.Text.Encoding.UTF8.GetBytes("""{"name":"io.github.a/b","description":"d","version":"1"}""")).ToArray();
        Assert.True(RegistryReader.Read(bytes).IsReadable);
    }

    [Fact]
    public void The_snapshot_with_its_byte_order_mark_reads_every_record()
    {
        var result = RegistryReader.Read(File.ReadAllBytes(FixturePaths.Snapshot));
        Assert.True(result.IsReadable, result.Failure?.ToString());
        Assert.Equal(2794, result.Document!.Entries.Count);
        Assert.All(result.Document.Entries, e => Assert.NotNull(e.Official?.PublishedAt));
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void Bytes_that_are_not_utf8_are_refused_with_their_position()
    {
        byte[] bytes = [.. "{\n\"name\": \""u8, 0xC3, 0x28, .. "\"}"u8];
        var result = RegistryReader.Read(bytes);
        Assert.Equal(ReadFailureKind.NotJson, result.Failure!.Kind);
        Assert.Contains("UTF-8", result.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(2, result.Failure.Line);
    }

    [Fact]
    public void A_lone_surrogate_escape_is_refused_rather_than_crashing_the_reader()
    {
        var result = Read("""{"name":"io.github.a/\ud800","description":"d","version":"1"}""");
        Assert.Equal(ReadFailureKind.NotJson, result.Failure!.Kind);
        Assert.Contains("lone surrogate", result.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scalar_root_is_not_a_registry_document()
    {
        var result = Read("42");
        Assert.Equal(ReadFailureKind.Unreadable, result.Failure!.Kind);
    }

    [Fact]
    public void A_missing_field_is_reported_once_not_once_by_the_reader_and_again_by_the_validator()
    {
        var result = RegistryLoader.Load(System.Text.Encoding.UTF8.GetBytes("""{"name":"io.github.a/b","description":"d"}"""));
        var problem = Assert.Single(result.Problems, p => p.Path == "version");
        Assert.True(problem.IsError);

        var mistyped = RegistryLoader.Load(System.Text.Encoding.UTF8.GetBytes("""{"name":5,"description":"d","version":"1.0.0"}"""));
        Assert.Equal("schema.type", Assert.Single(mistyped.Problems, p => p.Path == "name").Rule);
    }
}
