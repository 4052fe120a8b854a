using System.Collections.Immutable;
using Steward.Core.Sandbox;

namespace Steward.Core.Tests.Sandbox;

public sealed class SandboxProfileTests
{
    private static SandboxProfile Parse(string json)
    {
        var (profile, problems) = SandboxRules.Parse(json);
        Assert.True(profile is not null, string.Join("; ", problems));
        return profile;
    }

    [Fact]
    public void A_full_profile_reads_and_writes_back_the_same()
    {
        var profile = Parse("""
            {"mode": "prefer", "files": {"paths": ["~/data", {"path": "${workspaceFolder}", "access": "read-write"}], "hidden": ["~/.kube/config"]},
             "network": {"mode": "allowlist", "allow": ["api.example.com:443", "*.example.org", "127.0.0.1:8080", "[::1]:*"]}, "process": {"uid": 1000}}
            """);
        Assert.Equal(SandboxMode.Prefer, profile.Mode);
        Assert.Equal([new SandboxPath("~/data", PathAccess.Read), new SandboxPath("${workspaceFolder}", PathAccess.ReadWrite)], profile.Paths.ToArray());
        Assert.Equal(NetworkMode.Allowlist, profile.Network);
        Assert.Equal(["api.example.com:443", "*.example.org", "127.0.0.1:8080", "[::1]"], profile.Allow.Select(a => a.ToString()).ToArray());
        Assert.Equal(1000, profile.Uid);
        Assert.Equal(profile.ToJson(), Parse(profile.ToJson()).ToJson());
    }

    [Theory]
    [InlineData("""{"mode": "always"}""", "mode")]
    [InlineData("""{"mode": "on", "files": {"paths": ["relative/path"]}}""", "files.paths[0]")]
    [InlineData("""{"files": {"paths": [{"path": "~/../etc", "access": "read"}]}}""", "files.paths[0].path")]
    [InlineData("""{"files": {"paths": [{"path": "/data", "access": "write"}]}}""", "files.paths[0].access")]
    [InlineData("""{"files": {"paths": ["/"]}}""", "files.paths[0]")]
    [InlineData("""{"files": {"paths": ["/a,b"]}}""", "files.paths[0]")]
    [InlineData("""{"network": {"mode": "allowlist", "allow": ["*"]}}""", "network.allow[0]")]
    [InlineData("""{"network": {"mode": "allowlist", "allow": ["example.com:99999"]}}""", "network.allow[0]")]
    [InlineData("""{"network": {"mode": "allowlist", "allow": ["exa mple.com"]}}""", "network.allow[0]")]
    [InlineData("""{"network": {"mode": "allowlist"}}""", "network.allow")]
    [InlineData("""{"network": {"mode": "none", "allow": ["example.com"]}}""", "network.allow")]
    [InlineData("""{"process": {"uid": 0}}""", "process.uid")]
    [InlineData("""{"mode": "on", "filez": {}}""", "filez")]
    public void A_bad_profile_is_refused_at_the_path_of_what_is_wrong(string json, string path)
    {
        var (profile, problems) = SandboxRules.Parse(json);
        Assert.Null(profile);
        Assert.Contains(problems, p => p.Path == path && p.Hint.Length > 0);
    }

    [Theory]
    [InlineData("api.example.com:443", "api.example.com", 443, true)]
    [InlineData("api.example.com:443", "API.example.com.", 443, true)]
    [InlineData("api.example.com:443", "api.example.com", 80, false)]
    [InlineData("*.example.com", "a.b.example.com", 80, true)]
    [InlineData("*.example.com", "example.com", 80, false)]
    [InlineData("*.example.com", "evilexample.com", 80, false)]
    [InlineData("127.0.0.1:8080", "127.0.0.1", 8080, true)]
    [InlineData("127.0.0.1:8080", "localhost", 8080, false)]
    [InlineData("[::1]", "[::1]", 5, true)]
    public void An_allowlist_pattern_matches_the_host_and_port_asked_for(string pattern, string host, int port, bool matches)
    {
        Assert.Null(SandboxRules.ParseHost(pattern, out var parsed));
        Assert.Equal(matches, parsed!.Matches(host, port));
    }

    private static readonly SandboxContext Context = new()
    {
        Home = "/home/dev",
        WorkspaceFolder = "/work/app",
        Variable = name => name == "DATA_DIR" ? "/srv/data" : null,
        ExtraHidden = ["/home/dev/.config/steward-test"],
        WorkingDirectory = "/work/app",
        SupportPaths = ["/home/dev/.nvm/versions/node/v22"],
    };

    [Fact]
    public void Bubblewrap_gets_a_read_only_system_an_empty_home_with_the_declared_paths_and_every_namespace()
    {
        var profile = Parse("""{"mode": "on", "files": {"paths": ["~/projects/x", {"path": "${workspaceFolder}", "access": "read-write"}, "${DATA_DIR}/in", "~"]}}""");
        var (resolved, problems) = SandboxPlanner.Resolve(profile, Context);
        Assert.Empty(problems);
        var args = SandboxPlanner.BwrapArgs(resolved!, null);
        Assert.Equal(
        [
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run",
            "--tmpfs", "/home/dev",
            "--ro-bind-try", "/home/dev/.nvm/versions/node/v22", "/home/dev/.nvm/versions/node/v22",
            "--ro-bind-try", "/home/dev/projects/x", "/home/dev/projects/x",
            "--bind-try", "/work/app", "/work/app",
            "--ro-bind-try", "/srv/data/in", "/srv/data/in",
            "--ro-bind-try", "/home/dev", "/home/dev",
        ], args.Take(28).ToArray());
        // Declaring the whole home still covers every credential directory, Steward's own included.
        foreach (var hidden in new[] { "/home/dev/.ssh", "/home/dev/.aws", "/home/dev/.config/gcloud", "/home/dev/.mozilla", "/home/dev/.config/steward-test" })
        {
            Assert.Contains(hidden, Pairs(args, "--tmpfs"));
        }

        Assert.True(args.IndexOf("--tmpfs", 20) > args.IndexOf("/home/dev", 25), "hidden paths are covered after the binds");
        foreach (var flag in new[] { "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent", "--new-session" })
        {
            Assert.Contains(flag, args);
        }

        Assert.Equal("ALL", Pairs(args, "--cap-drop").Single());
        Assert.Equal("/work/app", Pairs(args, "--chdir").Single());
    }

    [Fact]
    public void Hidden_files_are_covered_with_dev_null_and_missing_ones_dropped()
    {
        var (resolved, _) = SandboxPlanner.Resolve(Parse("""{"mode": "on", "files": {"paths": ["~"]}}"""), Context);
        var args = SandboxPlanner.CoverFiles(SandboxPlanner.BwrapArgs(resolved!, null),
            path => path switch { "/home/dev/.netrc" => PathKind.File, "/home/dev/.ssh" or "/home/dev" => PathKind.Directory, _ => PathKind.Missing });
        Assert.Equal("/dev/null", args[args.IndexOf("/home/dev/.netrc") - 1]);
        Assert.Contains("/home/dev/.ssh", Pairs(args, "--tmpfs"));
        Assert.DoesNotContain("/home/dev/.aws", args);
    }

    [Fact]
    public void A_proxy_network_binds_the_socket_and_the_working_directory_falls_back_to_tmp_when_hidden()
    {
        var (resolved, _) = SandboxPlanner.Resolve(Parse("""{"mode": "on", "network": {"mode": "loopback"}}"""), Context with { WorkingDirectory = "/home/dev/secret-project" });
        var args = SandboxPlanner.BwrapArgs(resolved!, "/tmp/steward-sbx-1/proxy.sock");
        var at = args.IndexOf("/tmp/steward-sbx-1/proxy.sock");
        Assert.Equal(("--ro-bind", SandboxPlanner.ProxySocketPath), (args[at - 1], args[at + 1]));
        Assert.Equal("/tmp", Pairs(args, "--chdir").Single());
        Assert.Equal(["127.0.0.1", "localhost", "[::1]"], resolved!.Profile.EffectiveAllow.Select(a => a.Host).ToArray());
    }

    [Fact]
    public void An_unset_variable_in_a_path_is_a_problem_naming_it_and_how_to_set_it()
    {
        var (resolved, problems) = SandboxPlanner.Resolve(Parse("""{"mode": "on", "files": {"paths": ["${CACHE}/x"]}}"""), Context);
        Assert.Null(resolved);
        var problem = Assert.Single(problems);
        Assert.Equal("files.paths[0]", problem.Path);
        Assert.Contains("${CACHE}", problem.Message, StringComparison.Ordinal);
        Assert.Contains("--env CACHE=", problem.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Docker_gets_the_profile_as_flags_after_run_and_refuses_options_that_undo_it()
    {
        var (resolved, _) = SandboxPlanner.Resolve(Parse("""{"mode": "on", "files": {"paths": [{"path": "${workspaceFolder}", "access": "read-write"}, "~/ref"]}}"""), Context);
        var (args, problems) = SandboxPlanner.DockerArgs(resolved!, ["run", "-i", "--rm", "-e", "TOKEN", "example/image:1"]);
        Assert.Empty(problems);
        Assert.Equal(
            ["run", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
             "--mount", "type=bind,src=/work/app,dst=/work/app", "--mount", "type=bind,src=/home/dev/ref,dst=/home/dev/ref,readonly",
             "-i", "--rm", "-e", "TOKEN", "example/image:1"],
            args.ToArray());

        var (_, conflicts) = SandboxPlanner.DockerArgs(resolved!, ["run", "-i", "--rm", "--network=host", "-v", "/:/host", "example/image:1", "--privileged"]);
        Assert.Equal(["args[3]", "args[4]"], conflicts.Select(p => p.Path).ToArray());
    }

    [Fact]
    public void The_macos_profile_denies_by_default_hides_home_and_credentials_and_allows_only_the_proxy_port()
    {
        var (resolved, _) = SandboxPlanner.Resolve(Parse("""{"mode": "on", "files": {"paths": [{"path": "~/out \"q\"", "access": "read-write"}]}, "network": {"mode": "loopback"}}"""), Context);
        var text = SandboxPlanner.SeatbeltProfile(resolved!, "/private/tmp/steward-sbx-1", 49152);
        var lines = text.Split('\n');
        Assert.Equal("(version 1)", lines[0]);
        Assert.Equal("(deny default)", lines[1]);
        Assert.Contains("(deny file-read* (subpath \"/home/dev\"))", lines);
        Assert.Contains("(allow file-write* (subpath \"/home/dev/out \\\"q\\\"\"))", lines);
        Assert.Contains("(allow file-write* (subpath \"/private/tmp/steward-sbx-1\"))", lines);
        Assert.Contains("(allow network-outbound (remote ip \"localhost:49152\"))", lines);
        // Credentials are denied after everything that allows (the last matching rule wins).
        Assert.True(Array.IndexOf(lines, "(deny file-read* file-write* (subpath \"/home/dev/.ssh\"))") > Array.FindLastIndex(lines, l => l.StartsWith("(allow file", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.Contains("network*", StringComparison.Ordinal) && l.StartsWith("(allow", StringComparison.Ordinal));
    }

    [Fact]
    public void The_policy_section_round_trips_and_an_entry_profile_replaces_the_default()
    {
        var policy = new SandboxPolicy(Parse("""{"mode": "prefer"}"""), ImmutableDictionary<string, SandboxProfile>.Empty.Add("io.example/a", Parse("""{"mode": "on"}""")));
        using var stream = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(stream))
        {
            SandboxPolicyJson.Write(writer, policy);
        }

        using var document = System.Text.Json.JsonDocument.Parse(stream.ToArray());
        var (read, problems) = SandboxPolicyJson.Parse(document.RootElement);
        Assert.Empty(problems);
        Assert.Equal(SandboxMode.On, read!.For("io.example/a").Mode);
        Assert.Equal(SandboxMode.Prefer, read.For("io.example/other").Mode);
        Assert.Equal(SandboxMode.Off, SandboxPolicy.None.For("io.example/a").Mode);
    }

    private static IEnumerable<string> Pairs(ImmutableArray<string> args, string flag)
    {
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == flag)
            {
                yield return args[i + 1];
            }
        }
    }
}
