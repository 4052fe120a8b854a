using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Registry;
using Steward.Core.Tests.Launch;

namespace Steward.Core.Tests.Admission;

public class AdmissionEvaluatorTests
{
    private static readonly string[] OfficialNumbers =
        ["01", "02", "03", "04", "05", "06", "07", "08", "10", "11", "12", "13", "14", "15", "16", "17"];

    private static ServerDetail Tool(string version, string extraArgument = "") => Examples.WithPackage(
        $$$"""{"registryType":"npm","identifier":"@acme/tool","version":"{{{version}}}","transport":{"type":"stdio"},"packageArguments":[{"type":"positional","value":"serve"}{{{extraArgument}}}]}""",
        "io.github.acme/tool", version);

    private static readonly AdmissionEvaluator Evaluator = AdmissionEvaluator.FromServers(
        OfficialNumbers.Select(Examples.Official)
            .Concat(Examples.Kiro())
            .Concat([Tool("1.0.0"), Tool("2.0.0"), Tool("1.1.0", """,{"type":"named","name":"--legacy","format":"boolean"}""")]));

    private static McpServerConfig Local(params string[] argv) => new() { Command = argv[0], Args = [.. argv[1..]] };

    private static McpServerConfig Remote(string url) => new() { Url = url };

    private static AdmissionDecision Evaluate(string name, McpServerConfig config) => Evaluator.Evaluate(name, config);

    private static AdmissionDecision.Blocked AssertBlocked(string reason, AdmissionDecision decision)
    {
        var blocked = Assert.IsType<AdmissionDecision.Blocked>(decision);
        Assert.Equal(reason, blocked.ReasonCode);
        return blocked;
    }

    [Fact]
    public void A_server_that_runs_the_latest_registry_package_is_allowed()
    {
        var decision = Assert.IsType<AdmissionDecision.Allowed>(Evaluate("io.github.acme/tool", Local("npx", "-y", "@acme/tool@2.0.0", "serve")));
        Assert.Equal(("io.github.acme/tool", "2.0.0", false), (decision.RegistryName, decision.Version, decision.Renamed));
    }

    [Fact]
    public void A_renamed_server_that_runs_the_same_thing_is_allowed_under_its_registry_name()
    {
        var decision = Assert.IsType<AdmissionDecision.Allowed>(Evaluate("my-tool", Local("npx", "-y", "@acme/tool@2.0.0", "serve")));
        Assert.True(decision.Renamed);
        Assert.Equal("io.github.acme/tool", decision.RegistryName);
        Assert.Equal("my-tool", decision.ConfiguredName);
    }

    [Fact]
    public void A_server_at_an_older_registry_version_is_relaunched_at_the_latest()
    {
        var decision = Assert.IsType<AdmissionDecision.Relaunch>(Evaluate("tool", Local("npx", "-y", "@acme/tool@1.0.0", "serve")));
        Assert.Equal(("2.0.0", "1.0.0"), (decision.Version, decision.FromVersion));
        Assert.Equal("2.0.0", decision.Package!.Version);
    }

    [Fact]
    public void An_older_version_with_that_versions_own_arguments_is_relaunched()
    {
        var decision = Evaluate("tool", Local("npx", "-y", "@acme/tool@1.1.0", "serve", "--legacy"));
        Assert.Equal("1.1.0", Assert.IsType<AdmissionDecision.Relaunch>(decision).FromVersion);
    }

    [Fact]
    public void A_version_the_registry_never_had_is_blocked()
    {
        var blocked = AssertBlocked(AdmissionReasons.VersionNotApproved, Evaluate("tool", Local("npx", "-y", "@acme/tool@1.5.0", "serve")));
        Assert.Contains("1.5.0", blocked.Message, StringComparison.Ordinal);
        AssertBlocked(AdmissionReasons.VersionNotApproved, Evaluate("tool", Local("npx", "-y", "@acme/tool", "serve")));
    }

    [Fact]
    public void An_extra_argument_is_blocked_without_echoing_it()
    {
        var blocked = AssertBlocked(AdmissionReasons.ArgumentsMismatch, Evaluate("io.github.acme/tool", Local("npx", "-y", "@acme/tool@2.0.0", "serve", "--token=s3cret")));
        Assert.DoesNotContain("s3cret", blocked.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_changed_or_reordered_argument_is_blocked()
    {
        AssertBlocked(AdmissionReasons.ArgumentsMismatch, Evaluate("tool", Local("npx", "-y", "@acme/tool@2.0.0", "start")));
        AssertBlocked(AdmissionReasons.ArgumentsMismatch, Evaluate("tool", Local("npx", "serve", "-y", "@acme/tool@2.0.0")));
    }

    [Fact]
    public void The_registry_name_with_another_package_is_blocked()
    {
        AssertBlocked(AdmissionReasons.PackageMismatch, Evaluate("io.github.acme/tool", Local("npx", "-y", "@evil/tool@2.0.0", "serve")));
    }

    [Fact]
    public void A_matching_name_alone_never_admits()
    {
        AssertBlocked(AdmissionReasons.PackageMismatch, Evaluate("io.github.acme/tool", Local("node", "tool.js")));
        AssertBlocked(AdmissionReasons.PackageMismatch, Evaluate("my-local-server", Local("npx", "-y", "-q", "@other/server", "start")));
        AssertBlocked(AdmissionReasons.UrlMismatch, Evaluate("my-remote-server", Remote("https://evil.example/my-server")));
    }

    [Fact]
    public void A_server_nobody_approved_is_not_in_the_registry()
    {
        AssertBlocked(AdmissionReasons.NotInRegistry, Evaluate("whatever", Local("node", "server.js")));
        AssertBlocked(AdmissionReasons.NotInRegistry, Evaluate("whatever", Remote("https://unknown.example/mcp")));
    }

    [Fact]
    public void A_runner_given_by_path_is_another_program()
    {
        AssertBlocked(AdmissionReasons.NotInRegistry, Evaluate("tool", Local("/tmp/npx", "-y", "@acme/tool@2.0.0", "serve")));
    }

    [Fact]
    public void A_disabled_server_is_blocked_first()
    {
        var config = Local("npx", "-y", "@acme/tool@2.0.0", "serve") with { Disabled = true };
        AssertBlocked(AdmissionReasons.Disabled, Evaluate("tool", config));
    }

    [Fact]
    public void A_kiro_server_with_its_identifier_as_written_is_allowed()
    {
        Assert.IsType<AdmissionDecision.Allowed>(Evaluate("my-local-server", Local("npx", "-y", "-q", "@acme/my-server", "start")));
    }

    [Theory]
    [InlineData("npx", "@modelcontextprotocol/everything@0.6.2")]
    [InlineData("npx", "--yes", "@modelcontextprotocol/everything@0.6.2")]
    [InlineData("dnx", "Knapcode.SampleMcpServer@0.4.0-beta", "--yes", "--", "mcp", "start")]
    [InlineData("dnx", "knapcode.samplemcpserver@0.4.0-BETA", "--", "mcp", "start")]
    [InlineData("uvx", "Weather_MCP.server==0.5.0")]
    public void Forms_that_change_prompting_or_spelling_but_not_what_runs_are_allowed(params string[] argv)
    {
        Assert.IsType<AdmissionDecision.Allowed>(Evaluate("x", Local(argv)));
    }

    [Fact]
    public void Variable_positions_accept_any_single_element_and_fixed_parts_must_match()
    {
        Assert.IsType<AdmissionDecision.Allowed>(Evaluate("fs", Local("npx", "-y", "@modelcontextprotocol/server-filesystem@1.0.2", "/a", "/b c", "--anything")));
        AssertBlocked(AdmissionReasons.ArgumentsMismatch, Evaluate("fs", Local("npx", "-y", "@modelcontextprotocol/server-filesystem@1.0.2")));

        Assert.IsType<AdmissionDecision.Allowed>(Evaluate("fs", Local(
            "docker", "run", "-i", "--rm", "--mount", "type=bind,src=/home/me,dst=/project", "--mount", "type=bind,src=/tmp,dst=/project/tmp",
            "-e", "LOG_LEVEL", "docker.io/mcp/filesystem:1.0.2", "/project")));
        AssertBlocked(AdmissionReasons.ArgumentsMismatch, Evaluate("fs", Local(
            "docker", "run", "-i", "--rm", "--mount", "type=volume,src=/home/me,dst=/project", "docker.io/mcp/filesystem:1.0.2", "/project")));
        AssertBlocked(AdmissionReasons.ArgumentsMismatch, Evaluate("fs", Local(
            "docker", "run", "-i", "--rm", "--privileged", "--mount", "type=bind,src=/,dst=/project", "docker.io/mcp/filesystem:1.0.2", "/project")));
    }

    [Fact]
    public void An_argument_with_choices_accepts_only_those_choices()
    {
        Assert.IsType<AdmissionDecision.Allowed>(Evaluate("hybrid", Local("npx", "-y", "@example/hybrid-mcp-server@1.5.0", "--mode", "cached")));
        AssertBlocked(AdmissionReasons.ArgumentsMismatch, Evaluate("hybrid", Local("npx", "-y", "@example/hybrid-mcp-server@1.5.0", "--mode", "--inspect")));
    }

    [Fact]
    public void Unexpanded_environment_references_fill_variable_positions_only()
    {
        Assert.IsType<AdmissionDecision.Allowed>(Evaluate("fs", Local("npx", "-y", "@modelcontextprotocol/server-filesystem@1.0.2", "${HOME}/work")));
        AssertBlocked(AdmissionReasons.VersionNotApproved, Evaluate("tool", Local("npx", "-y", "@acme/tool@${VERSION}", "serve")));
    }

    [Theory]
    [InlineData("https://mcp-fs.anonymous.modelcontextprotocol.io/http")]
    [InlineData("HTTPS://MCP-FS.Anonymous.ModelContextProtocol.IO/http")]
    [InlineData("https://mcp-fs.anonymous.modelcontextprotocol.io:443/http")]
    [InlineData("https://mcp-fs.anonymous.modelcontextprotocol.io./http")]
    [InlineData("https://mcp-fs.anonymous.modelcontextprotocol.io/http#section")]
    public void A_remote_url_differing_only_in_host_case_default_port_trailing_dot_or_fragment_is_allowed(string url)
    {
        var decision = Assert.IsType<AdmissionDecision.Allowed>(Evaluate("fs", Remote(url)));
        Assert.Equal("io.modelcontextprotocol.anonymous/mcp-fs", decision.RegistryName);
    }

    [Theory]
    [InlineData("https://mcp-fs.anonymous.modelcontextprotocol.io/other")]
    [InlineData("https://mcp-fs.anonymous.modelcontextprotocol.io/HTTP")]
    [InlineData("https://mcp-fs.anonymous.modelcontextprotocol.io/http?debug=1")]
    [InlineData("https://mcp-fs.anonymous.modelcontextprotocol.io:8443/http")]
    public void A_remote_url_with_another_path_query_or_port_is_blocked(string url)
    {
        AssertBlocked(AdmissionReasons.UrlMismatch, Evaluate("fs", Remote(url)));
    }

    [Fact]
    public void A_remote_over_plain_http_is_refused()
    {
        AssertBlocked(AdmissionReasons.RemoteNotHttps, Evaluate("fs", Remote("http://mcp-fs.anonymous.modelcontextprotocol.io/http")));
    }

    [Fact]
    public void A_remote_url_with_an_environment_reference_is_refused()
    {
        AssertBlocked(AdmissionReasons.UnresolvedReference, Evaluate("fs", Remote("https://${HOST}/http")));
    }

    [Theory]
    [InlineData("https://anonymous.modelcontextprotocol.io/mcp/us-cell1", true)]
    [InlineData("https://events.anonymous.modelcontextprotocol.io/sse/emea-cell1", true)]
    [InlineData("https://anonymous.modelcontextprotocol.io/mcp/us-cell1/extra", false)]
    [InlineData("https://anonymous.modelcontextprotocol.io/mcp/", false)]
    public void A_templated_remote_accepts_one_safe_value_per_variable(string url, bool allowed)
    {
        var decision = Evaluate("tenant", Remote(url));
        if (allowed)
        {
            Assert.IsType<AdmissionDecision.Allowed>(decision);
        }
        else
        {
            AssertBlocked(AdmissionReasons.UrlMismatch, decision);
        }
    }

    [Fact]
    public void A_registry_entry_runs_the_registrys_latest_plan_with_the_users_other_env_added()
    {
        var config = new McpServerConfig { Type = McpServerTypes.Registry, Env = [new("MINE", "${MINE}"), new("EXTRA", "1")] };
        var decision = Assert.IsType<AdmissionDecision.Allowed>(Evaluate("my-local-server", config));
        Assert.Equal(["npx", "-y", "-q", "@acme/my-server", "start"], decision.Plan!.Argv.ToArray());
        Assert.Equal("ENV_VAR_VALUE", decision.Plan.Environment["ENV_VAR"]);
        Assert.Equal("${MINE}", decision.Plan.Environment["MINE"]);
        Assert.Equal("1", decision.Plan.Environment["EXTRA"]);
        AssertBlocked(AdmissionReasons.EnvironmentFixed, Evaluate("my-local-server", config with { Env = [new("ENV_VAR", "${MINE}")] }));
    }

    [Fact]
    public void A_registry_entry_by_official_name_runs_its_latest_version()
    {
        var decision = Assert.IsType<AdmissionDecision.Allowed>(Evaluate("io.github.acme/tool", new McpServerConfig { Type = McpServerTypes.Registry }));
        Assert.Equal(["npx", "-y", "@acme/tool@2.0.0", "serve"], decision.Plan!.Argv.ToArray());
    }

    [Fact]
    public void A_registry_entry_for_a_remote_carries_the_remote_plan_with_the_users_headers()
    {
        var config = new McpServerConfig { Type = McpServerTypes.Registry, Headers = [new("Authorization", "Bearer ${TOKEN}")] };
        var decision = Assert.IsType<AdmissionDecision.Allowed>(Evaluate("my-remote-server", config));
        Assert.Equal("https://acme.com/my-server", decision.Remote!.Url);
        Assert.Equal("SomeValue", decision.Remote.Headers["X-My-Header"]);
        Assert.Equal("Bearer ${TOKEN}", decision.Remote.Headers["authorization"]);
    }

    [Fact]
    public void A_registry_entry_whose_name_is_unknown_is_blocked()
    {
        AssertBlocked(AdmissionReasons.RegistryEntryUnknown, Evaluate("no-such-server", new McpServerConfig { Type = McpServerTypes.Registry }));
    }

    [Fact]
    public void A_registry_entry_that_lacks_a_required_input_is_blocked_with_what_is_missing()
    {
        var blocked = AssertBlocked(AdmissionReasons.InputsMissing, Evaluate("io.modelcontextprotocol.anonymous/brave-search", new McpServerConfig { Type = McpServerTypes.Registry }));
        Assert.Contains("BRAVE_API_KEY", blocked.Message, StringComparison.Ordinal);
        var config = new McpServerConfig { Type = McpServerTypes.Registry, Env = [new("BRAVE_API_KEY", "${BRAVE_API_KEY}")] };
        Assert.IsType<AdmissionDecision.Allowed>(Evaluate("io.modelcontextprotocol.anonymous/brave-search", config));
    }

    /// <summary>Every official example package Steward can run, planned with an input for each required value.</summary>
    public static TheoryData<string, int> RunnablePackages()
    {
        var data = new TheoryData<string, int>();
        foreach (var number in OfficialNumbers)
        {
            var packages = Examples.Official(number).Packages ?? [];
            for (var i = 0; i < packages.Count; i++)
            {
                if (Runners.Command(packages[i]) is not null)
                {
                    data.Add(number, i);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RunnablePackages))]
    public void What_the_planner_launches_for_a_registry_package_is_admitted(string number, int index)
    {
        var server = Examples.Official(number);
        var package = server.Packages![index];
        var plan = LaunchPlanner.Plan(package, FillAll(package));
        Assert.True(plan.Succeeded, string.Join("\n", plan.Problems));
        var decision = Assert.IsType<AdmissionDecision.Allowed>(Evaluate("renamed", Local([.. plan.Plan!.Argv])));
        Assert.Equal(server.Name, decision.RegistryName);
    }

    private static LaunchInputs FillAll(Package package)
    {
        static string Sample(Input input) =>
            input.Choices is { Count: > 0 } choices ? choices[^1] : input.Format switch { "number" => "42", "boolean" => "true", _ => "sample value" };

        var inputs = LaunchInputs.Empty;
        foreach (var argument in (package.RuntimeArguments ?? []).Concat(package.PackageArguments ?? []))
        {
            if (argument.Value is null && argument.Required && argument.Default is null && (argument.IsNamed ? argument.Name : argument.ValueHint) is { } key)
            {
                inputs = inputs.WithArgument(key, Sample(argument));
            }

            foreach (var (name, variable) in argument.Variables ?? new Dictionary<string, Input>())
            {
                if (!variable.Required || variable.Default is not null)
                {
                    continue;
                }

                inputs = inputs.WithVariable(name, Sample(variable));
            }
        }

        foreach (var variable in package.EnvironmentVariables ?? [])
        {
            if (!variable.Required || variable.Default is not null)
            {
                continue;
            }

            inputs = inputs.WithEnvironment(variable.Name, Sample(variable));
        }

        return inputs;
    }
}
