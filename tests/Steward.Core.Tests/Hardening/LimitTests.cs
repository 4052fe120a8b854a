using System.Text;
using Steward.Core.Config;
using Steward.Core.Json;
using Steward.Core.Policy;
using Steward.Core.Registry;

namespace Steward.Core.Tests.Hardening;

public class LimitTests
{
    private static string ServerJson(string name, string packages = "") =>
        "{\"name\":\"" + name + "\",\"description\":\"d\",\"version\":\"1.0.0\"" + packages + "}";

    [Fact]
    public void A_registry_document_with_too_many_servers_is_refused_naming_the_limit()
    {
        var limit = DocumentLimits.Default.MaxServers;
        var json = "[" + string.Join(",", Enumerable.Range(0, limit + 1).Select(i => "{}")) + "]";

        var read = RegistryReader.Read(Encoding.UTF8.GetBytes(json));

        Assert.Equal(ReadFailureKind.TooLarge, read.Failure!.Kind);
        Assert.Contains($"servers per document, over the limit of {limit:N0}", read.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_server_with_too_many_packages_is_refused_at_its_path()
    {
        var packages = string.Join(",", Enumerable.Range(0, DocumentLimits.Default.MaxPackagesPerServer + 1).Select(i => "{\"registryType\":\"npm\",\"identifier\":\"x\",\"transport\":{\"type\":\"stdio\"}}"));

        var read = RegistryReader.Read(Encoding.UTF8.GetBytes("{\"servers\":[{\"server\":" + ServerJson("a.b/c", ",\"packages\":[" + packages + "]") + "}]}"));

        Assert.Equal("servers[0].server.packages has 65 packages per server, over the limit of 64; list them as separate servers", read.Failure!.Message);
    }

    [Fact]
    public void A_package_with_too_many_arguments_is_refused()
    {
        var arguments = string.Join(",", Enumerable.Range(0, DocumentLimits.Default.MaxArgumentsPerPackage + 1).Select(i => "{\"type\":\"positional\",\"value\":\"v\"}"));

        var read = RegistryReader.Read(Encoding.UTF8.GetBytes(ServerJson("a.b/c", ",\"packages\":[{\"registryType\":\"npm\",\"identifier\":\"x\",\"transport\":{\"type\":\"stdio\"},\"packageArguments\":[" + arguments + "]}]")));

        Assert.Contains("packages[0].packageArguments has 257 packageArguments per package or remote, over the limit of 256", read.Failure!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_over_long_string_is_refused_naming_its_path_and_the_limit()
    {
        var read = RegistryReader.Read(Encoding.UTF8.GetBytes(ServerJson("a.b/c").Replace("\"d\"", "\"" + new string('x', 70_000) + "\"", StringComparison.Ordinal)));

        Assert.Equal("description has 70,000 characters in a string, over the limit of 65,536; shorten the value", read.Failure!.Message);
    }

    [Fact]
    public void An_mcp_json_with_too_many_servers_is_refused()
    {
        var servers = string.Join(",", Enumerable.Range(0, 1_001).Select(i => $"\"s{i}\":{{\"command\":\"x\"}}"));

        var read = McpConfigReader.Read(Encoding.UTF8.GetBytes("{\"mcpServers\":{" + servers + "}}"));

        Assert.Equal("mcpServers has 1,001 servers in mcp.json, over the limit of 1,000; remove servers you do not use", read.Failure!.Message);
    }

    [Fact]
    public void Too_large_and_too_deep_documents_are_refused_before_parsing()
    {
        var large = RegistryReader.Read(new byte[100], limits: new JsonLimits { MaxBytes = 50 });
        var deep = McpConfigReader.Read(Encoding.UTF8.GetBytes(new string('[', 100) + new string(']', 100)));

        Assert.Contains("over the limit of 50 bytes", large.Failure!.Message, StringComparison.Ordinal);
        Assert.Equal(ReadFailureKind.TooDeep, deep.Failure!.Kind);
        Assert.Contains("nested more than 64 levels", deep.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_oversized_bundle_is_refused_before_any_parsing()
    {
        var verification = PolicyBundle.Verify(new string('a', PolicyBundle.MaxLength + 1), [], DateTimeOffset.UtcNow);

        Assert.Contains($"over {PolicyBundle.MaxLength} characters", verification.Error, StringComparison.Ordinal);
    }
}
