using System.Text.RegularExpressions;
using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Core.Validation;

/// <summary>
/// The Kiro registry file's subset of server.json: flat unique names, one package (npm, pypi or oci over stdio) or
/// one remote, positional arguments with fixed values, and environment variables and headers with fixed values.
/// Fields Kiro does not read are reported as warnings so that nobody relies on them.
/// </summary>
internal static partial class KiroRules
{
    private static readonly string[] RegistryTypes = [Registry.RegistryTypes.Npm, Registry.RegistryTypes.Pypi, Registry.RegistryTypes.Oci];

    public static void ValidateServer(ServerDetail server, string path, List<Problem> problems)
    {
        var namePath = JsonPath.Field(path, "name");
        Confusables.Check(server.Name, namePath, "kiro.name-confusable", problems);
        var length = Text.Length(server.Name);
        if (length is < 3 or > 200)
        {
            problems.Add(Problem.Error(namePath, "kiro.name-length", $"the server name \"{server.Name}\" is {length} characters long; Kiro needs 3 to 200",
                "use a name of 3 to 200 characters, such as \"weather-mcp\""));
        }

        if (server.Name.Length > 0 && !Name().IsMatch(server.Name))
        {
            var flat = FlatName().Replace(server.Name, "-");
            problems.Add(Problem.Error(namePath, "kiro.name-pattern", $"the server name \"{server.Name}\" may only contain letters, digits, '.', '_' and '-' in a Kiro registry file",
                $"flatten the name, for example \"{flat}\" (Kiro names have no slash)"));
        }

        var packages = server.Packages?.Count ?? 0;
        var remotes = server.Remotes?.Count ?? 0;
        if (packages + remotes == 0)
        {
            problems.Add(Problem.Error(path, "kiro.one-endpoint", $"the server \"{server.Name}\" has neither a package nor a remote",
                "give exactly one package (a local server) or exactly one remote"));
        }
        else if (packages > 0 && remotes > 0)
        {
            problems.Add(Problem.Error(path, "kiro.one-endpoint", $"the server \"{server.Name}\" has both packages and remotes; Kiro takes exactly one of them",
                "keep either the one package or the one remote, and list the other as a separate server"));
        }
        else if (packages > 1)
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "packages"), "kiro.one-endpoint", $"the server \"{server.Name}\" has {packages} packages; Kiro takes exactly one",
                "keep one package and list the others as separate servers"));
        }
        else if (remotes > 1)
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "remotes"), "kiro.one-endpoint", $"the server \"{server.Name}\" has {remotes} remotes; Kiro takes exactly one",
                "keep one remote and list the others as separate servers"));
        }

        Ignored(server.Schema is not null, JsonPath.Field(path, "$schema"), "$schema", problems);
        Ignored(server.Meta is not null, JsonPath.Field(path, "_meta"), "_meta", problems);
        Ignored(server.Icons is not null, JsonPath.Field(path, "icons"), "icons", problems);
        Ignored(server.Repository is not null, JsonPath.Field(path, "repository"), "repository", problems);
        Ignored(server.WebsiteUrl is not null, JsonPath.Field(path, "websiteUrl"), "websiteUrl", problems);

        if (server.Remotes is { } list)
        {
            for (var i = 0; i < list.Count; i++)
            {
                Ignored(list[i].Variables is not null, JsonPath.Field(JsonPath.Index(JsonPath.Field(path, "remotes"), i), "variables"), "variables", problems);
            }
        }
    }

    public static void ValidatePackage(Package package, string path, List<Problem> problems)
    {
        if (!RegistryTypes.Contains(package.RegistryType, StringComparer.Ordinal))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "registryType"), "kiro.registry-type", $"the registry type \"{package.RegistryType}\" is not supported by Kiro",
                "use npm (run with npx), pypi (uvx) or oci (docker)"));
        }

        if (package.Transport.Type != TransportTypes.Stdio)
        {
            problems.Add(Problem.Error(JsonPath.Field(JsonPath.Field(path, "transport"), "type"), "kiro.transport-stdio", $"the package transport \"{package.Transport.Type}\" is not supported by Kiro",
                "use { \"type\": \"stdio\" }; an HTTP server belongs in \"remotes\""));
        }
        else if (!string.IsNullOrEmpty(package.Transport.Url))
        {
            problems.Add(Problem.Error(JsonPath.Field(JsonPath.Field(path, "transport"), "url"), "transport.url-not-allowed", $"the url must be empty for the stdio transport, got \"{package.Transport.Url}\"",
                "remove \"url\" from the stdio transport"));
        }

        Ignored(package.Version is not null, JsonPath.Field(path, "version"), "version", problems,
            "Kiro ignores the package version; pin it in the identifier instead (\"@acme/server@1.2.3\", \"pkg==1.2.3\", \"image:tag\")");
        Ignored(package.FileSha256 is not null, JsonPath.Field(path, "fileSha256"), "fileSha256", problems);
        Ignored(package.RuntimeHint is not null, JsonPath.Field(path, "runtimeHint"), "runtimeHint", problems);
        Ignored(package.Transport.Headers is not null, JsonPath.Field(JsonPath.Field(path, "transport"), "headers"), "headers", problems);
    }

    public static void ValidateArgument(Argument argument, string path, List<Problem> problems)
    {
        if (argument.Type != ArgumentTypes.Positional || argument.Value is null)
        {
            var what = argument.Type == ArgumentTypes.Named
                ? $"named argument \"{argument.Name}\""
                : argument.Value is null ? "argument without a value" : $"argument of type \"{argument.Type}\"";
            problems.Add(Problem.Error(path, "kiro.argument-positional-value", $"the {what}: Kiro supports positional arguments with a value only",
                "write { \"type\": \"positional\", \"value\": \"...\" }; a flag and its value become two positional arguments (\"--port\", \"8080\")"));
        }

        Ignored(argument.Variables is not null, JsonPath.Field(path, "variables"), "variables", problems);
    }

    public static void ValidateKeyValue(KeyValueInput input, string path, string kind, List<Problem> problems)
    {
        if (input.Name.Length == 0)
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "name"), "kiro.key-value-name", $"the {kind} has an empty name",
                $"give the {kind} its name"));
        }

        if (input.Value is null)
        {
            problems.Add(Problem.Error(path, "kiro.key-value-value", $"the {kind} \"{input.Name}\" has no value; Kiro needs a fixed value (it does not prompt for inputs)",
                $"give the {kind} a \"value\"; secrets the user supplies cannot be expressed in a Kiro registry file"));
        }

        Ignored(input.Variables is not null, JsonPath.Field(path, "variables"), "variables", problems);
    }

    private static void Ignored(bool present, string path, string field, List<Problem> problems, string? hint = null)
    {
        if (present)
        {
            problems.Add(Problem.Warning(path, "kiro.ignored-field", $"Kiro ignores \"{field}\"",
                hint ?? $"remove \"{field}\", or keep it knowing Kiro clients will not read it"));
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9._-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex Name();

    [GeneratedRegex("[^a-zA-Z0-9._-]+", RegexOptions.CultureInvariant)]
    private static partial Regex FlatName();
}
