using Steward.Core.Validation;

namespace Steward.Core.Tests.Validation;

/// <summary>Remotes, and the rules across the entries of one document.</summary>
public class RemoteAndDocumentRulesTests
{
    [Theory]
    [InlineData("streamable-http", "https://example.com/mcp", "")]
    [InlineData("sse", "https://example.com/events", "")]
    [InlineData("streamable-http", "https://example.com/mcp/{tenant_id}", "\"tenant_id\":{\"description\":\"Tenant\",\"isRequired\":true}")]
    [InlineData("streamable-http", "https://{region}.example.com/mcp/{tenant_id}", "\"region\":{\"choices\":[\"us-east-1\",\"eu-west-1\"]},\"tenant_id\":{}")]
    [InlineData("sse", "https://events.example.com/mcp/{api_key}", "\"api_key\":{\"isRequired\":true,\"isSecret\":true}")]
    [InlineData("streamable-http", "https://example.com/mcp", "\"unused_var\":{\"description\":\"defined but not used\"}")]
    [InlineData("streamable-http", "https://{host}/mcp", "\"host\":{\"default\":\"api.example.com\"}")]
    [InlineData("streamable-http", "https://example.com:{port}/mcp", "\"port\":{\"default\":\"443\"}")]
    public void Valid_remotes_are_accepted(string type, string url, string variables)
    {
        var fields = $"\"type\":\"{type}\",\"url\":{Check.Q(url)}" + (variables.Length == 0 ? "" : ",\"variables\":{" + variables + "}");
        Check.Remote(fields).IsClean();
    }

    [Theory]
    [InlineData("stdio")]
    [InlineData("websocket")]
    [InlineData("")]
    public void A_remote_type_other_than_streamable_http_or_sse_is_refused(string type)
    {
        Check.Remote($"\"type\":\"{type}\",\"url\":\"https://example.com/ws\"").HasError("remote.type", "remotes[0].type");
    }

    [Fact]
    public void A_remote_without_a_url_is_refused()
    {
        Check.Remote("\"type\":\"sse\",\"url\":\"\"").HasError("remote.url-required", "remotes[0].url");
    }

    [Theory]
    [InlineData("not-a-valid-url")]
    [InlineData("example.com/remote")]
    [InlineData("wss://example.com/ws")]
    [InlineData("https://")]
    public void A_remote_url_that_is_not_an_http_url_is_refused(string url)
    {
        Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)}").HasError("remote.url-invalid", "remotes[0].url");
    }

    [Theory]
    [InlineData("http://api.github.com/endpoint")]
    [InlineData("http://example.com/sse")]
    public void A_plain_http_remote_is_refused(string url)
    {
        var problems = Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)}");

        problems.HasError("remote.url-not-https", "remotes[0].url");
        Assert.Contains(url, problems.Single("remote.url-not-https").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://localhost/mcp")]
    [InlineData("https://localhost:3000/mcp")]
    [InlineData("https://LOCALHOST/mcp")]
    [InlineData("https://127.0.0.1/mcp")]
    [InlineData("https://[::1]:8443/mcp")]
    [InlineData("https://app.localhost/mcp")]
    public void A_remote_on_this_machine_is_refused(string url)
    {
        Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)}").HasError("remote.url-localhost", "remotes[0].url");
    }

    [Theory]
    [InlineData("{scheme}://127.0.0.1:{port}/mcp", "remote.url-variable-scheme", "scheme")]
    [InlineData("{protocol}://mcp.example.com/mcp", "remote.url-variable-scheme", "protocol")]
    [InlineData("http{s}://mcp.example.com/mcp", "remote.url-variable-scheme", "s")]
    [InlineData("{baseUrl}/mcp", "remote.url-variable-scheme", "baseUrl")]
    [InlineData("{baseUrl}", "remote.url-variable-scheme", "baseUrl")]
    public void A_remote_whose_scheme_is_a_variable_is_refused_since_a_value_could_make_it_plain_http(string url, string rule, string variable)
    {
        var problems = Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)},\"variables\":{{\"{variable}\":{{}},\"port\":{{}}}}");

        var error = problems.Single(rule);
        Assert.Equal("remotes[0].url", error.Path);
        Assert.Contains("{" + variable + "}", error.Message, StringComparison.Ordinal);
        Assert.Contains("write", error.Hint, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://{tenant}/mcp")]
    [InlineData("http://{tenant}:{port}/mcp")]
    [InlineData("http://127.0.0.{tenant}/mcp")]
    public void A_plain_http_remote_whose_host_is_a_variable_is_refused_saying_a_value_could_send_it_anywhere(string url)
    {
        var problems = Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)},\"variables\":{{\"tenant\":{{}},\"port\":{{}}}}");

        var error = problems.Single("remote.url-not-https");
        Assert.Equal("remotes[0].url", error.Path);
        Assert.Equal($"the remote url \"{url}\" must use https (its host comes from a variable, so a value could send it to any machine)", error.Message);
        Assert.Equal("serve the remote over HTTPS and use its https:// address", error.Hint);
    }

    [Theory]
    [InlineData("http://127.0.0.1:{port}/mcp")]
    [InlineData("http://localhost:{port}/mcp")]
    [InlineData("http://[::1]:{port}/mcp")]
    public void A_plain_http_loopback_remote_with_a_variable_port_is_refused_since_a_registry_remote_has_no_loopback_exception(string url)
    {
        var problems = Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)},\"variables\":{{\"port\":{{}}}}");

        Assert.Equal($"the remote url \"{url}\" must use https", problems.Single("remote.url-not-https").Message);
        problems.HasError("remote.url-localhost", "remotes[0].url");
    }

    [Theory]
    [InlineData("https://127.0.0.2/mcp", "127.0.0.2")]
    [InlineData("https://[::ffff:127.0.0.1]/mcp", "[::ffff:127.0.0.1]")]
    [InlineData("https://localhost./mcp", "localhost.")]
    public void A_remote_on_any_loopback_address_is_on_this_machine(string url, string host)
    {
        var error = Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)}").Single("remote.url-localhost");

        Assert.Equal($"the remote url \"{url}\" points at this machine ({host})", error.Message);
    }

    [Theory]
    [InlineData("https://{tenant}.mcp.example.com/mcp")]
    [InlineData("https://{tenant}:{port}/mcp")]
    [InlineData("https://mcp.example.com:{port}/mcp")]
    [InlineData("https://mcp.example.com/mcp/{tenant}")]
    public void A_remote_with_a_variable_for_the_host_the_port_or_the_path_is_accepted(string url)
    {
        var problems = Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)},\"variables\":{{\"tenant\":{{}},\"port\":{{}}}}");

        Assert.DoesNotContain(problems, p => p.Rule.StartsWith("remote.url", StringComparison.Ordinal));
    }

    [Fact]
    public void A_plain_http_localhost_remote_breaks_both_rules()
    {
        var problems = Check.Remote("\"type\":\"streamable-http\",\"url\":\"http://localhost:3000/mcp\"");

        problems.HasError("remote.url-not-https", "remotes[0].url");
        problems.HasError("remote.url-localhost", "remotes[0].url");
    }

    [Theory]
    [InlineData("https://example.com/mcp/{tenant_id}", "", "tenant_id")]
    [InlineData("https://example.com/mcp/{tenant_id}/{region}", "\"variables\":{\"tenant_id\":{}}", "region")]
    public void A_remote_url_variable_that_is_not_declared_is_refused(string url, string variables, string missing)
    {
        var problems = Check.Remote($"\"type\":\"streamable-http\",\"url\":{Check.Q(url)}" + (variables.Length == 0 ? "" : "," + variables));

        var error = problems.Single("remote.url-undeclared-variable");
        Assert.Equal("remotes[0].url", error.Path);
        Assert.Contains("{" + missing + "}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Remote_headers_and_variables_are_checked_as_inputs()
    {
        var problems = Check.Remote("\"type\":\"sse\",\"url\":\"https://{host}/sse\",\"variables\":{\"host\":{\"format\":\"hostname\"}},\"headers\":[{\"name\":\"Authorization\",\"value\":\"Bearer {token}\"}]");

        problems.HasError("input.format", "remotes[0].variables.host.format");
        problems.HasWarning("input.undeclared-variable", "remotes[0].headers[0].value");
    }

    [Fact]
    public void In_several_remotes_the_invalid_one_is_the_one_reported()
    {
        var problems = Check.Server("\"remotes\":[{\"type\":\"streamable-http\",\"url\":\"https://valid.com/remote\"},{\"type\":\"streamable-http\",\"url\":\"invalid-url\"}]");

        problems.HasError("remote.url-invalid", "remotes[1].url");
        Assert.DoesNotContain(problems, p => p.Path.StartsWith("remotes[0]", StringComparison.Ordinal));
    }

    [Fact]
    public void A_duplicate_version_of_a_server_is_refused_at_the_second_occurrence()
    {
        var json = "[" + Check.ServerJson(name: "com.example/alpha") + "," + Check.ServerJson(name: "com.example/alpha", version: "1.0.1") + "," +
                   Check.ServerJson(name: "com.example/alpha") + "]";

        var problems = Check.Document(json);

        problems.HasError("document.duplicate-version", "[2].version");
        Assert.Single(problems, p => p.Rule == "document.duplicate-version");
    }

    [Fact]
    public void A_duplicate_version_in_a_registry_api_page_is_refused_with_the_page_path()
    {
        var item = "{\"server\":" + Check.ServerJson(name: "com.example/alpha") + "}";
        var problems = Check.Document("{\"servers\":[" + item + "," + item + "],\"metadata\":{\"count\":2}}");

        problems.HasError("document.duplicate-version", "servers[1].server.version");
    }

    [Fact]
    public void A_remote_url_shared_by_two_servers_is_a_warning_but_not_between_versions_of_one_server()
    {
        const string Remote = "\"remotes\":[{\"type\":\"streamable-http\",\"url\":\"https://mcp.example.com/mcp\"}]";
        var json = "[" + Check.ServerJson(Remote, name: "com.example/alpha") + "," + Check.ServerJson(Remote, name: "com.example/alpha", version: "2.0.0") + "," +
                   Check.ServerJson(Remote, name: "com.example/beta") + "]";

        var problems = Check.Document(json);

        problems.HasWarning("remote.url-duplicate", "[2].remotes[0].url");
        Assert.Single(problems, p => p.Rule == "remote.url-duplicate");
        problems.HasNoErrors();
    }

    private static string PageItem(string officialMeta, string name = "com.example/alpha") =>
        "{\"server\":" + Check.ServerJson(name: name) + ",\"_meta\":{\"io.modelcontextprotocol.registry/official\":{" + officialMeta + "}}}";

    [Theory]
    [InlineData("active")]
    [InlineData("deprecated")]
    [InlineData("deleted")]
    public void Each_registry_status_is_accepted(string status)
    {
        Check.Document("{\"servers\":[" + PageItem($"\"status\":\"{status}\",\"isLatest\":true") + "],\"metadata\":{\"count\":1}}").IsClean();
    }

    [Fact]
    public void An_unknown_status_is_refused_at_its_meta_path()
    {
        var problems = Check.Document("{\"servers\":[" + PageItem("\"status\":\"active\"") + "," + PageItem("\"status\":\"archived\"", "com.example/beta") + "],\"metadata\":{}}");

        problems.HasError("status.invalid", "servers[1]._meta[\"io.modelcontextprotocol.registry/official\"].status");
    }

    [Fact]
    public void A_status_message_over_500_characters_is_refused_in_a_page_and_in_an_array()
    {
        var message = Check.Q(new string('m', 501));
        Check.Document("{\"servers\":[" + PageItem("\"status\":\"deprecated\",\"statusMessage\":" + message) + "]}")
            .HasError("status.message-too-long", "servers[0]._meta[\"io.modelcontextprotocol.registry/official\"].statusMessage");
        Check.Document("[" + PageItem("\"status\":\"deprecated\",\"statusMessage\":" + message) + "]")
            .HasError("status.message-too-long", "[0]._meta[\"io.modelcontextprotocol.registry/official\"].statusMessage");
        Check.Document("[" + PageItem("\"status\":\"deprecated\",\"statusMessage\":" + Check.Q(new string('m', 500))) + "]").IsClean();
    }

    [Fact]
    public void A_deep_problem_in_a_registry_page_carries_the_full_path()
    {
        var items = string.Join(",", Enumerable.Range(0, 3).Select(i => "{\"server\":" + Check.ServerJson(name: $"com.example/s{i}") + "}"));
        var bad = "{\"server\":" + Check.ServerJson("\"packages\":[{" + Check.Npm("\"runtimeArguments\":[{\"type\":\"positional\",\"value\":\"-y\"},{\"type\":\"named\",\"name\":\"--port 8080\"}]") + "}]", name: "com.example/s3") + "}";

        var problems = Check.Document("{\"servers\":[" + items + "," + bad + "],\"metadata\":{\"count\":4}}");

        problems.HasError("argument.name-invalid", "servers[3].server.packages[0].runtimeArguments[1].name");
    }

    [Theory]
    [InlineData("""{"servers":[{"server":{"name":5,"packages":[{"transport":{}}],"remotes":[{}],"icons":[{}]}}],"metadata":[]}""")]
    [InlineData("""[{"server":{"packages":[{"runtimeArguments":[{}],"environmentVariables":[{}],"transport":{"type":"sse"}}],"remotes":[{"type":"sse","url":"https://{"}]}}]""")]
    [InlineData("""{"name":"a/b/c","version":"","description":"","repository":{"source":"github"},"websiteUrl":"","title":"","_meta":{"io.modelcontextprotocol.registry/publisher-provided":[1,2]}}""")]
    [InlineData("""{"servers":[{"server":{"name":"x","remotes":[{"type":"sse","url":"https://[::1"}],"packages":[{"transport":{"type":"stdio"},"runtimeArguments":[{"type":"named"}]}]}},{"server":{}}]}""")]
    public void Malformed_documents_never_make_the_validator_throw(string json)
    {
        var problems = Check.Document(json);

        Assert.True(problems.HasErrors());
    }
}
