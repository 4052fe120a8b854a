using System.Collections.Immutable;
using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Core.Tests.Launch;

/// <summary>
/// Every OCI package in the fixtures (the official examples and the registry snapshot), planned with every input
/// filled: the docker command is <c>run -i --rm</c> once, the image once, no secret in the argument vector, and what
/// the planner runs is what admission admits.
/// </summary>
public class OciCommandTests
{
    private const string SecretValue = "ghp_secretvalue123";

    public static TheoryData<string, string, int> OciPackages()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var (source, server) in AllServers())
        {
            var packages = server.Packages ?? [];
            for (var i = 0; i < packages.Count; i++)
            {
                if (packages[i].RegistryType == RegistryTypes.Oci)
                {
                    data.Add(source, server.Name + "@" + server.Version, i);
                }
            }
        }

        return data;
    }

    private static IEnumerable<(string Source, ServerDetail Server)> AllServers()
    {
        foreach (var file in Directory.GetFiles(FixturePaths.OfficialExamples, "*.json").Order(StringComparer.Ordinal))
        {
            var result = RegistryReader.Read(File.ReadAllBytes(file), RegistryShape.ServerJson);
            if (result.IsReadable)
            {
                yield return (Path.GetFileName(file), result.Document!.Entries.Single().Server);
            }
        }

        foreach (var entry in RegistryReader.Read(File.ReadAllBytes(FixturePaths.Snapshot)).Document!.Entries)
        {
            yield return ("snapshot", entry.Server);
        }
    }

    private static ServerDetail Find(string source, string id) =>
        AllServers().First(s => s.Source == source && s.Server.Name + "@" + s.Server.Version == id).Server;

    /// <summary>
    /// Plans with a value for every input the planner asks for (secrets get <see cref="SecretValue"/>); null when the
    /// entry itself is broken (a default outside its choices, a URL variable nothing defines: a few snapshot entries).
    /// </summary>
    private static LaunchPlan? PlanFilled(Package package)
    {
        var inputs = LaunchInputs.Empty;
        for (var round = 0; round < 4; round++)
        {
            var result = LaunchPlanner.Plan(package, inputs);
            if (result.Plan is { } plan)
            {
                return plan;
            }

            if (result.Problems.Any(p => p.Rule != LaunchRules.MissingInput))
            {
                Assert.All(result.Problems, p => Assert.False(string.IsNullOrEmpty(p.Path) || string.IsNullOrEmpty(p.Hint), p.ToString()));
                return null;
            }

            foreach (var problem in result.Problems)
            {
                Assert.NotNull(problem.Key);
                var value = problem.Key!.Contains("TOKEN", StringComparison.OrdinalIgnoreCase) || problem.Key.Contains("token", StringComparison.Ordinal) ||
                            problem.Key.Contains("KEY", StringComparison.Ordinal) || problem.Key.Contains("PASSWORD", StringComparison.Ordinal) || problem.Key.Contains("SECRET", StringComparison.Ordinal)
                    ? SecretValue
                    : "x";
                inputs = problem.Kind switch
                {
                    InputKind.Argument => inputs.WithArgument(problem.Key, ChoiceOr(package, problem.Key, value)),
                    InputKind.Variable => inputs.WithVariable(problem.Key, ChoiceOr(package, problem.Key, value)),
                    InputKind.Environment => inputs.WithEnvironment(problem.Key, ChoiceOr(package, problem.Key, value)),
                    _ => inputs,
                };
            }
        }

        var last = LaunchPlanner.Plan(package, inputs);
        Assert.Fail(string.Join("; ", last.Problems));
        return null!;
    }

    private static string ChoiceOr(Package package, string key, string value)
    {
        var normalized = OciCommand.Normalize(package).Package;
        IEnumerable<Input> inputs = (normalized.RuntimeArguments ?? []).Concat(normalized.PackageArguments ?? [])
            .SelectMany(a => new Input[] { a }.Concat(a.Variables?.Where(v => v.Key == key).Select(v => v.Value) ?? []))
            .Concat(normalized.EnvironmentVariables?.Where(e => e.Name == key) ?? [])
            .Concat(normalized.EnvironmentVariables?.SelectMany(e => e.Variables?.Where(v => v.Key == key).Select(v => v.Value) ?? []) ?? []);
        foreach (var input in inputs)
        {
            if (input.Choices is { Count: > 0 } choices)
            {
                return choices[0];
            }

            if (input.Format == InputFormats.Number)
            {
                return "1";
            }
        }

        return value;
    }

    [Theory]
    [MemberData(nameof(OciPackages))]
    public void Every_oci_package_runs_one_docker_command_with_the_image_once_and_no_secret_in_argv(string source, string id, int index)
    {
        var server = Find(source, id);
        var package = server.Packages![index];
        if (PlanFilled(package) is not { } plan)
        {
            return; // the entry's own defect, reported with its path (checked in PlanFilled)
        }

        Assert.Equal("docker", plan.Command);
        Assert.Equal(["run", "-i", "--rm"], plan.Args.Take(3).ToArray());
        Assert.Single(plan.Args, a => a == "run");
        Assert.Equal(1, plan.Args.Count(a => a == "-i" || a == "--interactive"));
        Assert.Equal(1, plan.Args.Count(a => a == "--rm"));
        var image = Runners.PackageSpec(package);
        Assert.Single(plan.Args, a => OciCommand.SameImage(a, package.Identifier));
        Assert.Contains(image, plan.Args);
        Assert.DoesNotContain(plan.Args, a => a.Contains(SecretValue, StringComparison.Ordinal));
        for (var i = 0; i < plan.Args.Length - 1; i++)
        {
            if (plan.Args[i] == "-e" && plan.Environment.Keys.Any(k => plan.Args[i + 1].StartsWith(k + "=", StringComparison.Ordinal)))
            {
                Assert.DoesNotContain(plan.Args[i + 1][(plan.Args[i + 1].IndexOf('=', StringComparison.Ordinal) + 1)..], plan.SecretEnvironmentNames);
            }
        }

        // What the planner runs is what admission admits (the server alone, so its version is the latest).
        var config = new McpServerConfig
        {
            Command = plan.Command,
            Args = plan.Args,
            Env = [.. plan.Environment.OrderBy(p => p.Key, StringComparer.Ordinal)],
        };
        var decision = AdmissionEvaluator.FromServers([server]).Evaluate("configured", config);
        Assert.True(decision is AdmissionDecision.Allowed, $"{string.Join(' ', plan.Argv)} → {decision}");
    }

    private static ServerDetail GitHub() => Find("snapshot", "io.github.github/github-mcp-server@0.20.2");

    [Fact]
    public void The_github_entry_runs_docker_once_with_the_token_forwarded_by_name()
    {
        var plan = LaunchPlanner.Plan(GitHub().Packages![0], LaunchInputs.Empty.WithEnvironment("GITHUB_PERSONAL_ACCESS_TOKEN", SecretValue)).Plan!;
        Assert.Equal(["docker", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server:0.20.2"], plan.Argv.ToArray());
        Assert.Equal(SecretValue, plan.Environment["GITHUB_PERSONAL_ACCESS_TOKEN"]);
        Assert.Contains("GITHUB_PERSONAL_ACCESS_TOKEN", plan.SecretEnvironmentNames);
    }

    [Fact]
    public void The_github_token_is_one_required_secret_input_named_as_the_environment_variable()
    {
        var problems = LaunchPlanner.Plan(GitHub().Packages![0], LaunchInputs.Empty).Problems;
        var missing = Assert.Single(problems);
        Assert.Equal((LaunchRules.MissingInput, InputKind.Environment, "GITHUB_PERSONAL_ACCESS_TOKEN"), (missing.Rule, missing.Kind, missing.Key));
        var variable = OciCommand.Normalize(GitHub().Packages![0]).Package.EnvironmentVariables!.Single();
        Assert.True(variable.Secret && variable.Required);
    }

    [Theory]
    [InlineData("ghcr.io/github/github-mcp-server:0.20.2", true)]
    [InlineData("ghcr.io/github/github-mcp-server", false)]
    public void A_kiro_github_configuration_as_github_documents_it_matches_the_entry(string image, bool pinned)
    {
        // The Kiro / GitHub README form: the token forwarded by name, its value in "env".
        var config = new McpServerConfig
        {
            Command = "docker",
            Args = ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", image],
            Env = [new("GITHUB_PERSONAL_ACCESS_TOKEN", "${GITHUB_TOKEN}")],
        };
        var decision = AdmissionEvaluator.FromServers([GitHub()]).Evaluate("github", config);
        if (pinned)
        {
            var allowed = Assert.IsType<AdmissionDecision.Allowed>(decision);
            Assert.Equal("io.github.github/github-mcp-server", allowed.RegistryName);
        }
        else
        {
            // Unpinned: the same package, so not a shadow server; the version is what is refused.
            Assert.Equal(AdmissionReasons.VersionNotApproved, Assert.IsType<AdmissionDecision.Blocked>(decision).ReasonCode);
        }
    }

    [Fact]
    public void The_literal_doubled_command_is_not_what_the_entry_runs()
    {
        var config = new McpServerConfig
        {
            Command = "docker",
            Args = ["run", "-i", "--rm", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN=ghp_x", "ghcr.io/github/github-mcp-server", "ghcr.io/github/github-mcp-server:0.20.2"],
        };
        Assert.IsType<AdmissionDecision.Blocked>(AdmissionEvaluator.FromServers([GitHub()]).Evaluate("github", config));
    }

    [Fact]
    public void A_plain_oci_package_is_left_as_it_is()
    {
        var package = Examples.Official("10").Packages![0];
        Assert.Same(package, OciCommand.Normalize(package).Package);
        Assert.Equal(ImmutableArray<string>.Empty, OciCommand.Normalize(package).Forwarded);
    }
}

/// <summary>Registry parameters are read-only in the environment: a developer's env may not change what the entry fixes.</summary>
public class FixedEnvironmentTests
{
    private static readonly ServerDetail Eval = Examples.WithPackage(
        """{"registryType":"npm","identifier":"@acme/eval","version":"1.0.0","transport":{"type":"stdio"},"environmentVariables":[{"name":"EVAL_MODE","value":"strict"},{"name":"API_KEY","isSecret":true,"isRequired":true},{"name":"LOG_LEVEL","default":"info"}]}""",
        "io.github.acme/eval");

    [Fact]
    public void A_developer_value_for_a_fixed_variable_is_refused_by_the_planner_naming_it()
    {
        var result = LaunchPlanner.Plan(Eval.Packages![0], LaunchInputs.Empty.WithEnvironment("API_KEY", "k").WithEnvironment("EVAL_MODE", "lax"));
        var problem = Assert.Single(result.Problems);
        Assert.Equal((LaunchRules.FixedValue, "EVAL_MODE"), (problem.Rule, problem.Key));
        Assert.Contains("--env", problem.Hint, StringComparison.Ordinal);
        Assert.Contains("administrator", problem.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Declared_inputs_defaults_and_unnamed_variables_stay_the_developers()
    {
        var plan = LaunchPlanner.Plan(Eval.Packages![0], LaunchInputs.Empty
            .WithEnvironment("API_KEY", "k").WithEnvironment("LOG_LEVEL", "debug").WithEnvironment("OTHER", "1").WithEnvironment("EVAL_MODE", "strict")).Plan!;
        Assert.Equal(("strict", "debug", "1"), (plan.Environment["EVAL_MODE"], plan.Environment["LOG_LEVEL"], plan.Environment["OTHER"]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Admission_refuses_a_configuration_whose_env_changes_a_fixed_variable(bool registryEntry)
    {
        var config = registryEntry
            ? new McpServerConfig { Type = McpServerTypes.Registry, Env = [new("API_KEY", "k"), new("EVAL_MODE", "lax")] }
            : new McpServerConfig { Command = "npx", Args = ["-y", "@acme/eval@1.0.0"], Env = [new("API_KEY", "k"), new("EVAL_MODE", "lax")] };
        var blocked = Assert.IsType<AdmissionDecision.Blocked>(AdmissionEvaluator.FromServers([Eval]).Evaluate("io.github.acme/eval", config));
        Assert.Equal(AdmissionReasons.EnvironmentFixed, blocked.ReasonCode);
        Assert.Contains("EVAL_MODE", blocked.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("lax", blocked.Message, StringComparison.Ordinal);

        var same = config with { Env = [new("API_KEY", "k"), new("EVAL_MODE", "strict")] };
        Assert.IsType<AdmissionDecision.Allowed>(AdmissionEvaluator.FromServers([Eval]).Evaluate("io.github.acme/eval", same));
    }
}
