using System.Text;
using System.Text.Json;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Core.Tests.Validation;

/// <summary>Builds small server.json documents, reads and validates them, and asserts on rule ids and paths.</summary>
internal static class Check
{
    public const string CurrentSchema = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

    /// <summary>Problems of a registry document given as JSON (shape detected unless given).</summary>
    public static IReadOnlyList<Problem> Document(string json, RegistryShape? shape = null)
    {
        var result = RegistryLoader.Load(Encoding.UTF8.GetBytes(json), shape);
        Assert.Null(result.Failure);
        return result.Problems;
    }

    /// <summary>A valid server.json with the given extra <paramref name="fields"/> (a JSON object body fragment).</summary>
    public static string ServerJson(string fields = "", string name = "com.example/test-server", string version = "1.0.0",
        string description = "A test server", bool schema = true)
    {
        var head = new StringBuilder("{");
        if (schema)
        {
            head.Append("\"$schema\":").Append(Q(CurrentSchema)).Append(',');
        }

        head.Append("\"name\":").Append(Q(name))
            .Append(",\"description\":").Append(Q(description))
            .Append(",\"version\":").Append(Q(version));
        if (fields.Length > 0)
        {
            head.Append(',').Append(fields);
        }

        return head.Append('}').ToString();
    }

    public static IReadOnlyList<Problem> Server(string fields = "", string name = "com.example/test-server", string version = "1.0.0",
        string description = "A test server", bool schema = true) =>
        Document(ServerJson(fields, name, version, description, schema));

    /// <summary>A server with one package made of the given package fields.</summary>
    public static IReadOnlyList<Problem> Package(string packageFields) => Server("\"packages\":[{" + packageFields + "}]");

    /// <summary>The fields of a valid npm stdio package, followed by <paramref name="extra"/>.</summary>
    public static string Npm(string extra = "") =>
        "\"registryType\":\"npm\",\"identifier\":\"test-package\",\"transport\":{\"type\":\"stdio\"}" + (extra.Length == 0 ? "" : "," + extra);

    /// <summary>A server with one npm package whose runtime arguments are the given JSON objects.</summary>
    public static IReadOnlyList<Problem> RuntimeArguments(params string[] arguments) =>
        Package(Npm("\"runtimeArguments\":[" + string.Join(",", arguments) + "]"));

    /// <summary>A server with one remote made of the given fields.</summary>
    public static IReadOnlyList<Problem> Remote(string remoteFields) => Server("\"remotes\":[{" + remoteFields + "}]");

    /// <summary>A JSON string literal.</summary>
    public static string Q(string value) => JsonSerializer.Serialize(value);

    public static void HasError(this IReadOnlyList<Problem> problems, string rule, string path) =>
        Assert.True(problems.Any(p => p.IsError && p.Rule == rule && p.Path == path),
            $"expected error [{rule}] at \"{path}\"; got:\n{Describe(problems)}");

    public static void HasWarning(this IReadOnlyList<Problem> problems, string rule, string path) =>
        Assert.True(problems.Any(p => !p.IsError && p.Rule == rule && p.Path == path),
            $"expected warning [{rule}] at \"{path}\"; got:\n{Describe(problems)}");

    public static void Lacks(this IReadOnlyList<Problem> problems, string rule) =>
        Assert.False(problems.Any(p => p.Rule == rule), $"expected no [{rule}]; got:\n{Describe(problems)}");

    public static void HasNoErrors(this IReadOnlyList<Problem> problems) =>
        Assert.False(problems.HasErrors(), $"expected no errors; got:\n{Describe(problems)}");

    public static void IsClean(this IReadOnlyList<Problem> problems) =>
        Assert.True(problems.Count == 0, $"expected no problems; got:\n{Describe(problems)}");

    public static Problem Single(this IReadOnlyList<Problem> problems, string rule)
    {
        var found = problems.Where(p => p.Rule == rule).ToList();
        Assert.True(found.Count == 1, $"expected exactly one [{rule}]; got:\n{Describe(problems)}");
        return found[0];
    }

    private static string Describe(IReadOnlyList<Problem> problems) =>
        problems.Count == 0 ? "  (none)" : string.Join("\n", problems.Select(p => "  " + p));
}
