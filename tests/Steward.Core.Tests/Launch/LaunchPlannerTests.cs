using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Core.Tests.Launch;

public class LaunchPlannerTests
{
    private static LaunchPlan PlanOf(Package package, LaunchInputs? inputs = null)
    {
        var result = LaunchPlanner.Plan(package, inputs ?? LaunchInputs.Empty);
        Assert.True(result.Succeeded, string.Join("\n", result.Problems));
        return result.Plan!;
    }

    [Fact]
    public void An_npm_package_runs_with_npx_yes_and_a_pinned_version()
    {
        var plan = PlanOf(Examples.Official("02").Packages![0]);
        Assert.Equal(["npx", "-y", "@modelcontextprotocol/everything@0.6.2"], plan.Argv.ToArray());
        Assert.Equal("stdio", plan.Transport.Type);
    }

    [Fact]
    public void A_pypi_package_runs_with_uvx_and_double_equals()
    {
        var plan = PlanOf(Examples.Official("07").Packages![0], LaunchInputs.Empty.WithEnvironment("WEATHER_API_KEY", "k"));
        Assert.Equal(["uvx", "weather-mcp-server==0.5.0"], plan.Argv.ToArray());
        Assert.Equal("celsius", plan.Environment["WEATHER_UNITS"]);
        Assert.Equal("k", plan.Environment["WEATHER_API_KEY"]);
    }

    [Fact]
    public void A_nuget_package_runs_with_dnx_and_a_double_dash_before_package_arguments()
    {
        var plan = PlanOf(Examples.Official("03").Packages![0]);
        Assert.Equal(["dnx", "Knapcode.SampleMcpServer@0.4.0-beta", "--", "mcp", "start"], plan.Argv.ToArray());
    }

    [Fact]
    public void A_nuget_package_without_package_arguments_has_no_double_dash()
    {
        var plan = PlanOf(Examples.Official("09").Packages![0], LaunchInputs.Empty.WithEnvironment("WEATHER_CHOICES", "sunny,rainy"));
        Assert.Equal(["dnx", "Knapcode.SampleMcpServer@0.5.0"], plan.Argv.ToArray());
    }

    [Fact]
    public void An_oci_image_with_a_tag_is_used_as_is_and_runs_interactive_and_removed()
    {
        var plan = PlanOf(Examples.Official("05").Packages![0]);
        Assert.Equal(["docker", "run", "-i", "--rm", "quay.io/myorg/my-mcp-server:1.0.0"], plan.Argv.ToArray());
    }

    [Theory]
    [InlineData("docker.io/mcp/x", "1.2.0", "docker.io/mcp/x:1.2.0")]
    [InlineData("docker.io/mcp/x:2.0.0", "1.2.0", "docker.io/mcp/x:2.0.0")]
    [InlineData("docker.io/mcp/x@sha256:abc", "1.2.0", "docker.io/mcp/x@sha256:abc")]
    [InlineData("localhost:5000/x", "1.2.0", "localhost:5000/x:1.2.0")]
    public void An_oci_version_is_appended_only_to_an_image_without_tag_or_digest(string identifier, string version, string expected)
    {
        var plan = PlanOf(Examples.Package($$$"""{"registryType":"oci","identifier":"{{{identifier}}}","version":"{{{version}}}","transport":{"type":"stdio"}}"""));
        Assert.Equal(expected, plan.Args[^1]);
    }

    [Fact]
    public void Oci_runtime_arguments_repeat_named_mounts_with_their_variables_substituted()
    {
        var package = Examples.Official("04").Packages![1];
        var inputs = LaunchInputs.Empty.WithVariable("source_path", "/home/me/a", "/home/me/b").WithVariable("target_path", "/project/a", "/project/b");
        var plan = PlanOf(package, inputs);
        Assert.Equal(
            ["run", "-i", "--rm",
             "--mount", "type=bind,src=/home/me/a,dst=/project/a",
             "--mount", "type=bind,src=/home/me/b,dst=/project/b",
             "-e", "LOG_LEVEL",
             "docker.io/mcp/filesystem:1.0.2", "/project"],
            plan.Args.ToArray());
        Assert.Equal("info", plan.Environment["LOG_LEVEL"]);
    }

    [Fact]
    public void A_variable_given_once_fills_every_repetition_and_its_default_applies()
    {
        var plan = PlanOf(Examples.Official("04").Packages![1], LaunchInputs.Empty.WithVariable("source_path", "/src"));
        Assert.Contains("type=bind,src=/src,dst=/project", plan.Args.ToArray());
    }

    [Fact]
    public void Example_ten_builds_docker_runtime_and_package_arguments_as_separate_elements()
    {
        var inputs = LaunchInputs.Empty
            .WithVariable("db_type", "postgres")
            .WithArgument("database_name", "orders")
            .WithArgument("--port", "5432")
            .WithEnvironment("DB_USERNAME", "app")
            .WithEnvironment("DB_PASSWORD", "hunter2");
        var plan = PlanOf(Examples.Official("10").Packages![0], inputs);
        Assert.Equal("docker", plan.Command);
        Assert.Equal(
            ["run", "-i", "--rm", "--network", "host", "-e", "DB_TYPE=postgres",
             "-e", "DB_USERNAME", "-e", "DB_PASSWORD", "-e", "SSL_MODE",
             "docker.io/example/database-manager-mcp:3.1.0",
             "--host", "localhost", "--port", "5432", "orders"],
            plan.Args.ToArray());
        Assert.DoesNotContain(plan.Args, a => a.Contains("hunter2", StringComparison.Ordinal));
        Assert.Contains("DB_PASSWORD", plan.SecretEnvironmentNames);
        Assert.Equal("***", plan.RedactedEnvironment()["DB_PASSWORD"]);
    }

    [Fact]
    public void Every_missing_required_input_is_reported_at_once()
    {
        var result = LaunchPlanner.Plan(Examples.Official("10").Packages![0], LaunchInputs.Empty);
        Assert.False(result.Succeeded);
        Assert.All(result.Problems, p => Assert.Equal(LaunchRules.MissingInput, p.Rule));
        Assert.Equal(
            [(InputKind.Variable, "db_type"), (InputKind.Argument, "database_name"), (InputKind.Environment, "DB_USERNAME"), (InputKind.Environment, "DB_PASSWORD")],
            result.Problems.Select(p => (p.Kind, p.Key!)));
        Assert.Equal("runtimeArguments[1].variables.db_type", result.Problems[0].Path);
        Assert.Equal("packageArguments[2]", result.Problems[1].Path);
        Assert.Equal("environmentVariables[1]", result.Problems[3].Path);
    }

    [Fact]
    public void An_optional_argument_without_value_or_default_is_left_out()
    {
        var inputs = LaunchInputs.Empty.WithVariable("db_type", "redis").WithArgument("database_name", "d")
            .WithEnvironment("DB_USERNAME", "u").WithEnvironment("DB_PASSWORD", "p");
        var plan = PlanOf(Examples.Official("10").Packages![0], inputs);
        Assert.DoesNotContain("--port", plan.Args.ToArray());
    }

    [Theory]
    [InlineData("x; rm -rf ~")]
    [InlineData("$(id)")]
    [InlineData("`id`")]
    [InlineData("a\nb")]
    [InlineData("--config=/etc/shadow")]
    [InlineData("-rf")]
    [InlineData("\"quoted\" 'and' spaced")]
    [InlineData("a && b | c > d")]
    public void A_hostile_input_stays_exactly_one_untouched_argument(string hostile)
    {
        var package = Examples.Package("""{"registryType":"npm","identifier":"@acme/fs","version":"1.0.0","transport":{"type":"stdio"},"packageArguments":[{"type":"positional","valueHint":"dir","isRequired":true},{"type":"named","name":"--label","isRequired":true}]}""");
        var plan = PlanOf(package, LaunchInputs.Empty.WithArgument("dir", hostile).WithArgument("--label", hostile));
        Assert.Equal(["-y", "@acme/fs@1.0.0", hostile, "--label", hostile], plan.Args.ToArray());
    }

    [Fact]
    public void A_hostile_variable_value_stays_inside_its_one_argument()
    {
        var plan = PlanOf(Examples.Official("04").Packages![1], LaunchInputs.Empty.WithVariable("source_path", "/x; rm -rf ~\n--privileged"));
        Assert.Equal("type=bind,src=/x; rm -rf ~\n--privileged,dst=/project", plan.Args[4]);
        Assert.DoesNotContain("--privileged", plan.Args.ToArray());
    }

    [Fact]
    public void A_package_without_version_uses_its_identifier_exactly_as_written()
    {
        var kiro = Examples.Kiro().Single(s => s.Name == "my-local-server");
        var plan = PlanOf(kiro.Packages![0]);
        Assert.Equal(["npx", "-y", "-q", "@acme/my-server", "start"], plan.Argv.ToArray());
        Assert.Equal("ENV_VAR_VALUE", plan.Environment["ENV_VAR"]);

        var pinned = PlanOf(Examples.Package("""{"registryType":"npm","identifier":"@acme/x@1.2.3","transport":{"type":"stdio"}}"""));
        Assert.Equal(["npx", "-y", "@acme/x@1.2.3"], pinned.Argv.ToArray());
    }

    [Fact]
    public void The_user_environment_adds_new_keys_and_cannot_change_a_fixed_one()
    {
        var kiro = Examples.Kiro().Single(s => s.Name == "my-local-server");
        var plan = PlanOf(kiro.Packages![0], LaunchInputs.Empty.WithEnvironment("GITHUB_TOKEN", "${GITHUB_TOKEN}"));
        Assert.Equal("ENV_VAR_VALUE", plan.Environment["ENV_VAR"]);
        Assert.Equal("${GITHUB_TOKEN}", plan.Environment["GITHUB_TOKEN"]);
        Assert.Contains("GITHUB_TOKEN", plan.SecretEnvironmentNames);

        var refused = LaunchPlanner.Plan(kiro.Packages![0], LaunchInputs.Empty.WithEnvironment("ENV_VAR", "mine"));
        Assert.Equal(LaunchRules.FixedValue, Assert.Single(refused.Problems).Rule);
    }

    [Theory]
    [InlineData("npm", "npx", "npx")]
    [InlineData("npm", "bunx", "npx")]
    [InlineData("pypi", "uvx", "uvx")]
    [InlineData("pypi", "pipx", "uvx")]
    [InlineData("oci", "podman", "podman")]
    [InlineData("oci", "npx", "docker")]
    [InlineData("nuget", "dnx", "dnx")]
    public void A_runtime_hint_replaces_the_program_only_when_it_is_a_runner_of_that_type(string type, string hint, string expected)
    {
        var plan = PlanOf(Examples.Package($$$"""{"registryType":"{{{type}}}","identifier":"acme","version":"1.0.0","runtimeHint":"{{{hint}}}","transport":{"type":"stdio"}}"""));
        Assert.Equal(expected, plan.Command);
    }

    [Theory]
    [InlineData("cargo")]
    [InlineData("mcpb")]
    public void A_package_type_without_runner_is_refused_with_a_clear_problem(string type)
    {
        var result = LaunchPlanner.Plan(Examples.Package($$$"""{"registryType":"{{{type}}}","identifier":"https://github.com/a/b/releases/download/v1/x.mcpb","version":"1.0.0","transport":{"type":"stdio"}}"""), LaunchInputs.Empty);
        var problem = Assert.Single(result.Problems);
        Assert.Equal(LaunchRules.NoRunner, problem.Rule);
        Assert.Equal("registryType", problem.Path);
        Assert.Contains(type, problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("8080", true)]
    [InlineData("0.5", true)]
    [InlineData("-3", true)]
    [InlineData("8,5", false)]
    [InlineData("eighty", false)]
    [InlineData("NaN", false)]
    public void A_number_input_must_parse_invariantly(string value, bool ok)
    {
        var package = Examples.Package("""{"registryType":"npm","identifier":"x","version":"1.0.0","transport":{"type":"stdio"},"packageArguments":[{"type":"named","name":"--port","format":"number"}]}""");
        var result = LaunchPlanner.Plan(package, LaunchInputs.Empty.WithArgument("--port", value));
        Assert.Equal(ok, result.Succeeded);
        if (!ok)
        {
            Assert.Equal(LaunchRules.InvalidNumber, Assert.Single(result.Problems).Rule);
        }
    }

    [Fact]
    public void A_boolean_named_argument_is_a_bare_flag_when_true_and_absent_when_false()
    {
        var package = Examples.Package("""{"registryType":"npm","identifier":"x","version":"1.0.0","transport":{"type":"stdio"},"packageArguments":[{"type":"named","name":"--verbose","format":"boolean"}]}""");
        Assert.Equal(["-y", "x@1.0.0", "--verbose"], PlanOf(package, LaunchInputs.Empty.WithArgument("--verbose", "true")).Args.ToArray());
        Assert.Equal(["-y", "x@1.0.0"], PlanOf(package, LaunchInputs.Empty.WithArgument("--verbose", "false")).Args.ToArray());
        var wrong = LaunchPlanner.Plan(package, LaunchInputs.Empty.WithArgument("--verbose", "yes"));
        Assert.Equal(LaunchRules.InvalidBoolean, Assert.Single(wrong.Problems).Rule);
    }

    [Fact]
    public void A_value_outside_the_choices_is_refused_and_the_choices_are_named()
    {
        var result = LaunchPlanner.Plan(Examples.Official("11").Packages![0], LaunchInputs.Empty.WithArgument("--mode", "turbo"));
        var problem = Assert.Single(result.Problems);
        Assert.Equal(LaunchRules.NotAChoice, problem.Rule);
        Assert.Contains("local, cached, proxy", problem.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_values_for_an_argument_that_is_not_repeated_are_refused()
    {
        var result = LaunchPlanner.Plan(Examples.Official("11").Packages![0], LaunchInputs.Empty.WithArgument("--mode", "local", "proxy"));
        Assert.Equal(LaunchRules.TooManyValues, Assert.Single(result.Problems).Rule);
    }

    [Fact]
    public void A_repeated_positional_argument_takes_each_value_as_one_element()
    {
        var plan = PlanOf(Examples.Official("04").Packages![0], LaunchInputs.Empty.WithArgument("target_dir", "/a", "/b c"));
        Assert.Equal(["-y", "@modelcontextprotocol/server-filesystem@1.0.2", "/a", "/b c"], plan.Args.ToArray());
    }

    [Fact]
    public void A_fixed_value_is_not_configurable()
    {
        var plan = PlanOf(Examples.Official("04").Packages![1], LaunchInputs.Empty.WithVariable("source_path", "/s").WithArgument("target_dir", "/elsewhere"));
        Assert.Equal("/project", plan.Args[^1]);
    }

    [Fact]
    public void A_secret_argument_is_redacted_in_the_displayable_arguments()
    {
        var package = Examples.Package("""{"registryType":"npm","identifier":"x","version":"1.0.0","transport":{"type":"stdio"},"packageArguments":[{"type":"named","name":"--token","isSecret":true,"isRequired":true}]}""");
        var plan = PlanOf(package, LaunchInputs.Empty.WithArgument("--token", "s3cret"));
        Assert.Equal(["-y", "x@1.0.0", "--token", "s3cret"], plan.Args.ToArray());
        Assert.Equal(["-y", "x@1.0.0", "--token", "***"], plan.RedactedArgs().ToArray());
    }

    [Fact]
    public void A_package_serving_http_gets_its_url_from_the_argument_it_names()
    {
        var package = Examples.Official("17").Packages![0];
        Assert.Equal("http://localhost:3000/mcp", PlanOf(package).Transport.Url);
        var plan = PlanOf(package, LaunchInputs.Empty.WithArgument("--port", "4100"));
        Assert.Equal("http://localhost:4100/mcp", plan.Transport.Url);
        Assert.Equal(["-y", "@example/mcp-server@1.0.0", "--port", "4100"], plan.Args.ToArray());
    }

    [Fact]
    public void A_package_url_value_that_would_change_the_host_is_refused()
    {
        var result = LaunchPlanner.Plan(Examples.Official("17").Packages![0], LaunchInputs.Empty.WithArgument("--port", "80@evil.example"));
        Assert.Contains(result.Problems, p => p.Rule == LaunchRules.UnsafeUrlValue && p.Key == "--port");
    }
}
