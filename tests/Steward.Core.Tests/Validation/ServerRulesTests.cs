using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Core.Tests.Validation;

/// <summary>Name, description, title, version, $schema, _meta, repository, websiteUrl and icons of one server.json.</summary>
public class ServerRulesTests
{
    [Fact]
    public void A_minimal_current_server_has_no_problem_at_all()
    {
        Check.Server().IsClean();
    }

    [Theory]
    [InlineData("com.example.api/server")]
    [InlineData("com.microsoft.azure.service/webapp-server")]
    [InlineData("com.example/my-server")]
    [InlineData("io.github.user/weather")]
    [InlineData("io.github.user/my_server.v2")]
    [InlineData("ai.example-corp/Server9")]
    public void Reverse_dns_names_with_one_slash_are_accepted(string name)
    {
        Check.Server(name: name).IsClean();
    }

    [Theory]
    [InlineData("com.example/server/path")]
    [InlineData("com.example/my-server/extra")]
    [InlineData("com.example/my/server/name")]
    [InlineData("com.example/a/b/c/d/e")]
    [InlineData("com.example//server")]
    [InlineData("com.example/server/")]
    [InlineData("com.microsoft.azure/service/webapp-server")]
    public void A_name_with_two_or_more_slashes_is_refused(string name)
    {
        var problems = Check.Server(name: name);

        problems.HasError("name.multiple-slashes", "name");
        Assert.Contains(name, problems.Single("name.multiple-slashes").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("com.example.server")]
    [InlineData("weather-mcp")]
    public void A_name_without_a_slash_is_refused(string name)
    {
        Check.Server(name: name).HasError("name.missing-slash", "name");
    }

    [Theory]
    [InlineData("/server-name")]
    [InlineData("com.example/")]
    public void A_name_with_an_empty_namespace_or_name_part_is_refused(string name)
    {
        Check.Server(name: name).HasError("name.empty-part", "name");
    }

    [Theory]
    [InlineData("-com.example/server", "-com.example")]
    [InlineData("com.example-/server", "com.example-")]
    [InlineData("com_example/server", "com_example")]
    [InlineData("com.example/-server", "-server")]
    [InlineData("com.example/server_", "server_")]
    [InlineData("com.example/my server", "my server")]
    [InlineData("com.example/a", "a")]
    public void A_namespace_or_name_part_that_does_not_start_and_end_alphanumeric_is_refused_naming_the_part(string name, string part)
    {
        var problems = Check.Server(name: name);

        problems.HasError("name.pattern", "name");
        Assert.Contains($"\"{part}\"", problems.Single("name.pattern").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_longer_than_200_characters_is_refused()
    {
        Check.Server(name: "com.example/" + new string('a', 189)).HasError("name.length", "name");
        Check.Server(name: "com.example/" + new string('a', 188)).Lacks("name.length");
    }

    [Fact]
    public void A_missing_name_is_refused_by_the_validator_as_well_as_the_reader()
    {
        var problems = RegistryValidator.ValidateServer(new ServerDetail { Name = "", Description = "d", Version = "1.0.0", Schema = Check.CurrentSchema });

        problems.HasError("name.required", "name");
    }

    [Theory]
    [InlineData("")]
    [InlineData("12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901")]
    public void A_description_that_is_empty_or_longer_than_100_characters_is_refused(string description)
    {
        Check.Server(description: description).HasError("description.length", "description");
    }

    [Fact]
    public void A_description_of_exactly_100_characters_is_accepted()
    {
        Check.Server(description: new string('d', 100)).IsClean();
    }

    [Theory]
    [InlineData("GitHub")]
    [InlineData("Weather API")]
    [InlineData("GitHub MCP Server")]
    [InlineData("GitHub MCP")]
    [InlineData("GitHub mcp server")]
    [InlineData("GitHub-MCP")]
    [InlineData("MCP Weather API")]
    public void Ordinary_titles_are_accepted(string title)
    {
        Check.Server("\"title\":" + Check.Q(title)).IsClean();
    }

    [Theory]
    [InlineData("   ")]
    [InlineData("\t\n")]
    public void A_title_of_only_whitespace_is_refused(string title)
    {
        Check.Server("\"title\":" + Check.Q(title)).HasError("title.whitespace", "title");
    }

    [Fact]
    public void An_empty_or_overlong_title_is_refused()
    {
        Check.Server("\"title\":\"\"").HasError("title.length", "title");
        Check.Server("\"title\":" + Check.Q(new string('t', 101))).HasError("title.length", "title");
    }

    public static TheoryData<string> Ranges() =>
    [
        "^1.2.3", "~1.2.3", ">=1.0.0", "<=1.0.0", ">1.0.0", "<1.0.0", "=1.0.0", ">= 1.2.3",
        "1.x", "1.*", "1.2.*", "1.2.x", "1.2.X", "x.x", "1.2.3 - 2.0.0", "1 - 2", "1.2 || 1.3",
    ];

    public static TheoryData<string> SpecificVersions() =>
    [
        "1.0.0", "1.2.3-alpha.1", "2.1.3-alpha", "2021.03.15", "2025.11.25", "2025.06.18", "2025-06-18", "v1.0",
        "snapshot", "snapshot - 2025.09", "1.0.0+20130313144700", "0.0.1-beta.x", "2.0.0-next.3",
    ];

    [Theory]
    [MemberData(nameof(Ranges))]
    public void A_server_version_range_is_refused(string version)
    {
        var problems = Check.Server(version: version);

        problems.HasError("version.range", "version");
        Assert.Contains(version, problems.Single("version.range").Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Ranges))]
    public void A_package_version_range_is_refused(string version)
    {
        Check.Package(Check.Npm("\"version\":" + Check.Q(version))).HasError("version.range", "packages[0].version");
    }

    [Theory]
    [MemberData(nameof(SpecificVersions))]
    public void Specific_versions_semantic_or_not_are_accepted_for_servers_and_packages(string version)
    {
        Check.Server(version: version).IsClean();
        Check.Package(Check.Npm("\"version\":" + Check.Q(version))).IsClean();
    }

    [Fact]
    public void The_version_latest_is_reserved_for_servers_and_packages()
    {
        Check.Server(version: "latest").HasError("version.reserved", "version");
        Check.Package(Check.Npm("\"version\":\"latest\"")).HasError("version.reserved", "packages[0].version");
    }

    [Fact]
    public void A_version_longer_than_255_characters_is_refused()
    {
        var version = "1.0.0-" + new string('a', 250);
        Check.Server(version: version).HasError("version.length", "version");
        Check.Package(Check.Npm("\"version\":" + Check.Q(version))).HasError("version.length", "packages[0].version");
    }

    [Fact]
    public void An_empty_package_version_is_refused_while_an_absent_one_is_fine()
    {
        Check.Package(Check.Npm("\"version\":\"\"")).HasError("version.empty", "packages[0].version");
        Check.Package(Check.Npm()).IsClean();
    }

    [Fact]
    public void An_empty_server_version_is_refused()
    {
        Check.Server(version: "").HasError("version.required", "version");
    }

    [Fact]
    public void A_missing_schema_is_only_a_warning()
    {
        var problems = Check.Server(schema: false);

        problems.HasWarning("schema.missing", "$schema");
        problems.HasNoErrors();
    }

    [Fact]
    public void A_schema_url_that_is_not_the_published_form_is_a_warning()
    {
        Check.Server("\"$schema\":\"https://example.com/server.schema.json\"", schema: false).HasWarning("schema.url", "$schema");
    }

    [Fact]
    public void A_schema_url_with_a_fragment_is_a_warning_and_its_date_is_still_checked()
    {
        var problems = Check.Server("\"$schema\":\"https://static.modelcontextprotocol.io/schemas/2025-10-17/server.schema.json#/definitions/ServerDetail\"", schema: false);

        problems.HasWarning("schema.url", "$schema");
        problems.HasWarning("schema.older", "$schema");
        problems.HasNoErrors();
    }

    [Theory]
    [InlineData("2025-07-09")]
    [InlineData("2025-09-16")]
    [InlineData("2025-09-29")]
    [InlineData("2025-10-11")]
    [InlineData("2025-10-17")]
    public void An_older_published_schema_is_a_warning(string date)
    {
        var problems = Check.Server($"\"$schema\":\"https://static.modelcontextprotocol.io/schemas/{date}/server.schema.json\"", schema: false);

        problems.HasWarning("schema.older", "$schema");
        problems.HasNoErrors();
    }

    [Fact]
    public void A_schema_version_that_was_never_published_is_refused()
    {
        var problems = Check.Server("\"$schema\":\"https://static.modelcontextprotocol.io/schemas/2025-01-27/server.schema.json\"", schema: false);

        problems.HasError("schema.unknown-version", "$schema");
        Assert.Contains("2025-01-27", problems.Single("schema.unknown-version").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_publisher_provided_meta_block_over_4_KB_is_refused()
    {
        var big = "\"_meta\":{\"io.modelcontextprotocol.registry/publisher-provided\":{\"notes\":" + Check.Q(new string('x', 4100)) + "}}";
        var small = "\"_meta\":{\"io.modelcontextprotocol.registry/publisher-provided\":{\"notes\":\"short\"}}";

        Check.Server(big).HasError("meta.publisher-provided-too-large", "_meta[\"io.modelcontextprotocol.registry/publisher-provided\"]");
        Check.Server(small).IsClean();
    }

    [Fact]
    public void An_empty_repository_object_is_skipped_as_in_real_registry_data()
    {
        Check.Server("\"repository\":{}").IsClean();
        Check.Server("\"repository\":{\"url\":\"\",\"source\":\"\"}").IsClean();
    }

    [Theory]
    [InlineData("github", "https://github.com/owner/repo")]
    [InlineData("github", "https://www.github.com/owner/repo/")]
    [InlineData("github", "http://github.com/my.org/my_repo-2")]
    [InlineData("gitlab", "https://gitlab.com/group/repo")]
    [InlineData("gitlab", "https://gitlab.com/group/subgroup/repo")]
    public void GitHub_and_GitLab_repository_urls_are_accepted(string source, string url)
    {
        Check.Server($"\"repository\":{{\"url\":{Check.Q(url)},\"source\":{Check.Q(source)}}}").IsClean();
    }

    [Theory]
    [InlineData("github", "https://github.com/owner")]
    [InlineData("github", "https://github.com/owner/repo/tree/main")]
    [InlineData("github", "https://gitlab.com/owner/repo")]
    [InlineData("github", "https://github.com/ownér/repo")]
    [InlineData("github", "")]
    [InlineData("gitlab", "https://gitlab.com")]
    [InlineData("gitlab", "https://gitlab.com/group")]
    public void A_repository_url_that_does_not_match_its_source_is_refused(string source, string url)
    {
        var problems = Check.Server($"\"repository\":{{\"url\":{Check.Q(url)},\"source\":{Check.Q(source)}}}");

        problems.HasError("repository.url", "repository.url");
    }

    [Theory]
    [InlineData("bitbucket")]
    [InlineData("")]
    [InlineData("GitHub")]
    public void A_repository_source_other_than_github_or_gitlab_is_refused(string source)
    {
        Check.Server($"\"repository\":{{\"url\":\"https://bitbucket.org/owner/repo\",\"source\":{Check.Q(source)}}}")
            .HasError("repository.source", "repository.source");
    }

    [Theory]
    [InlineData("../parent/folder")]
    [InlineData("/absolute/path")]
    [InlineData("servers/my-server/")]
    [InlineData("servers/my server")]
    [InlineData("servers//my-server")]
    [InlineData("./servers")]
    [InlineData("servers/../other")]
    public void A_repository_subfolder_that_is_not_a_clean_relative_path_is_refused(string subfolder)
    {
        var problems = Check.Server($"\"repository\":{{\"url\":\"https://github.com/owner/repo\",\"source\":\"github\",\"subfolder\":{Check.Q(subfolder)}}}");

        problems.HasError("repository.subfolder", "repository.subfolder");
    }

    [Fact]
    public void A_clean_repository_subfolder_is_accepted()
    {
        Check.Server("\"repository\":{\"url\":\"https://github.com/owner/repo\",\"source\":\"github\",\"subfolder\":\"servers/my-server.v2\"}").IsClean();
    }

    [Theory]
    [InlineData("https://example.com/docs")]
    [InlineData("https://docs.example.com/mcp")]
    [InlineData("https://different.com/docs")]
    [InlineData("https://example.com/path/?q=hello%20world&r=a%22b")]
    public void Https_website_urls_are_accepted(string url)
    {
        Check.Server("\"websiteUrl\":" + Check.Q(url)).IsClean();
    }

    [Theory]
    [InlineData("https://example.com/\"oops")]
    [InlineData("https://example.com/it's")]
    [InlineData("https://example.com/<x>")]
    [InlineData("https://example.com/has space")]
    [InlineData("https://example.com/has\nnewline")]
    [InlineData("https://example.com/tab\there")]
    [InlineData("ht tp://example.com/docs")]
    public void A_website_url_with_a_quote_bracket_or_whitespace_is_refused(string url)
    {
        Check.Server("\"websiteUrl\":" + Check.Q(url)).HasError("website-url.invalid-character", "websiteUrl");
    }

    [Theory]
    [InlineData("example.com/docs")]
    [InlineData("/docs")]
    public void A_relative_website_url_is_refused(string url)
    {
        Check.Server("\"websiteUrl\":" + Check.Q(url)).HasError("website-url.not-absolute", "websiteUrl");
    }

    [Theory]
    [InlineData("http://example.com/docs")]
    [InlineData("ftp://example.com/docs")]
    public void A_website_url_other_than_https_is_refused(string url)
    {
        var problems = Check.Server("\"websiteUrl\":" + Check.Q(url));

        problems.HasError("website-url.not-https", "websiteUrl");
        Assert.Contains(url, problems.Single("website-url.not-https").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_complete_icon_is_accepted()
    {
        Check.Server("\"icons\":[{\"src\":\"https://example.com/icon.png\",\"mimeType\":\"image/png\",\"sizes\":[\"48x48\",\"any\"],\"theme\":\"dark\"}]").IsClean();
    }

    [Theory]
    [InlineData("http://example.com/icon.png")]
    [InlineData("data:image/png;base64,iVBORw0KGgo=")]
    public void An_icon_src_other_than_https_is_refused(string src)
    {
        Check.Server("\"icons\":[{\"src\":" + Check.Q(src) + "}]").HasError("icon.src-not-https", "icons[0].src");
    }

    [Theory]
    [InlineData("/icon.png")]
    [InlineData("icon.png")]
    public void A_relative_icon_src_is_refused(string src)
    {
        Check.Server("\"icons\":[{\"src\":" + Check.Q(src) + "}]").HasError("icon.src-not-absolute", "icons[0].src");
    }

    [Fact]
    public void An_icon_src_longer_than_255_characters_is_refused()
    {
        var src = "https://example.com/" + new string('i', 240) + ".png";
        Check.Server("\"icons\":[{\"src\":\"https://example.com/a.png\"},{\"src\":" + Check.Q(src) + "}]").HasError("icon.src-too-long", "icons[1].src");
    }

    [Fact]
    public void Icon_mime_type_sizes_and_theme_outside_their_enums_are_refused()
    {
        var problems = Check.Server("\"icons\":[{\"src\":\"https://example.com/i.gif\",\"mimeType\":\"image/gif\",\"sizes\":[\"48x48\",\"big\",\"４8x48\"],\"theme\":\"blue\"}]");

        problems.HasError("icon.mime-type", "icons[0].mimeType");
        problems.HasError("icon.sizes", "icons[0].sizes[1]");
        problems.HasError("icon.sizes", "icons[0].sizes[2]");
        problems.HasError("icon.theme", "icons[0].theme");
    }

    [Fact]
    public void Every_problem_of_a_server_is_reported_in_one_pass()
    {
        var problems = Check.Server("\"title\":\" \",\"websiteUrl\":\"http://x.example\",\"repository\":{\"url\":\"https://github.com/o\",\"source\":\"github\"}",
            name: "com.example/a/b", version: "^1.0.0", description: "");

        foreach (var rule in new[] { "name.multiple-slashes", "version.range", "description.length", "title.whitespace", "website-url.not-https", "repository.url" })
        {
            Assert.Contains(problems, p => p.Rule == rule);
        }

        Assert.All(problems, p => Assert.False(string.IsNullOrWhiteSpace(p.Hint)));
    }
}
