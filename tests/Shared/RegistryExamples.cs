using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Steward.Tests;

/// <summary>
/// <c>docs/examples/registry-examples.json</c>: the PyPI, OCI and remote servers the demo organisation does not seed
/// (it holds only what runs with npx). A test that needs one imports the file through the admin API, as an admin would.
/// </summary>
internal static class RegistryExamples
{
    public const string Fetch = "io.github.modelcontextprotocol/server-fetch";
    public const string GitHub = "io.github.github/github-mcp-server";
    public const string Notion = "com.notion/mcp";

    /// <summary>The names the file holds, in its order.</summary>
    public static IReadOnlyList<string> Names { get; } = [Fetch, GitHub, Notion];

    public static string File { get; } = Find();

    public static string Text => System.IO.File.ReadAllText(File);

    /// <summary>
    /// <c>POST /api/v1/orgs/{organisation}/registry/import?atomic=true</c> with the file as the body (what the docs
    /// tell an admin to run); every entry must be imported, none skipped.
    /// </summary>
    public static async Task ImportAsync(HttpClient admin, string organisation = "demo")
    {
        ArgumentNullException.ThrowIfNull(admin);
        using var content = new StringContent(Text, Encoding.UTF8, "application/json");
        using var response = await admin.PostAsync($"/api/v1/orgs/{organisation}/registry/import?atomic=true", content);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"import of {File}: {(int)response.StatusCode} {body}");
        var report = JsonNode.Parse(body)!;
        Assert.Empty(report["skipped"]!.AsArray());
        Assert.Equal(Names.Count, report["entries"]!.GetValue<int>());
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
            {
                return Path.Combine(dir.FullName, "docs", "examples", "registry-examples.json");
            }
        }

        throw new InvalidOperationException("the repository root (Steward.slnx) was not found above " + AppContext.BaseDirectory);
    }
}
