using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Steward.Core.Json;
using Steward.Core.Net;
using Steward.Core.Registry;

namespace Steward.Core.Validation;

/// <summary>
/// The official registry's semantic rules for one server.json (names, versions, repository, URLs, icons, packages,
/// arguments, transports, remotes, <c>_meta</c>, <c>$schema</c>). A Kiro file swaps the name and package rules for
/// <see cref="KiroRules"/>; everything else here applies to it too.
/// </summary>
internal static partial class OfficialRules
{
    public const string CurrentSchemaDate = "2025-12-11";
    public const int MaxPublisherMetaBytes = 4 * 1024;

    /// <summary>Schema dates published at static.modelcontextprotocol.io.</summary>
    public static readonly IReadOnlyList<string> KnownSchemaDates = ["2025-07-09", "2025-09-16", "2025-09-29", "2025-10-11", "2025-10-17", "2025-12-11"];

    private static readonly string[] IconMimeTypes = ["image/png", "image/jpeg", "image/jpg", "image/svg+xml", "image/webp"];
    private static readonly string[] IconThemes = ["light", "dark"];

    public static void Validate(ServerDetail server, string path, bool kiro, List<Problem> problems)
    {
        if (kiro)
        {
            KiroRules.ValidateServer(server, path, problems);
        }
        else
        {
            ValidateName(server.Name, JsonPath.Field(path, "name"), problems);
            ValidateSchema(server.Schema, JsonPath.Field(path, "$schema"), problems);
            ValidatePublisherMeta(server, JsonPath.Field(path, "_meta"), problems);
            ValidateRepository(server.Repository, JsonPath.Field(path, "repository"), problems);
            ValidateWebsiteUrl(server.WebsiteUrl, JsonPath.Field(path, "websiteUrl"), problems);
            ValidateIcons(server.Icons, JsonPath.Field(path, "icons"), problems);
        }

        ValidateDescription(server.Description, JsonPath.Field(path, "description"), problems);
        ValidateTitle(server.Title, JsonPath.Field(path, "title"), problems);
        ValidateServerVersion(server.Version, JsonPath.Field(path, "version"), problems);

        if (server.Packages is { } packages)
        {
            for (var i = 0; i < packages.Count; i++)
            {
                ValidatePackage(packages[i], JsonPath.Index(JsonPath.Field(path, "packages"), i), kiro, problems);
            }
        }

        if (server.Remotes is { } remotes)
        {
            for (var i = 0; i < remotes.Count; i++)
            {
                ValidateRemote(remotes[i], JsonPath.Index(JsonPath.Field(path, "remotes"), i), kiro, problems);
            }
        }
    }

    // ---- name -------------------------------------------------------------------------------------------------

    public static void ValidateName(string name, string path, List<Problem> problems)
    {
        if (name.Length == 0)
        {
            problems.Add(Problem.Error(path, "name.required", "the server name is missing",
                "give the server a name in reverse-DNS form with one slash, such as \"io.github.user/weather\""));
            return;
        }

        Confusables.Check(name, path, "name.confusable", problems);
        var length = Text.Length(name);
        if (length is < 3 or > 200)
        {
            problems.Add(Problem.Error(path, "name.length", $"the server name \"{name}\" is {length} characters long; it must be 3 to 200",
                "use a name such as \"com.example/my-server\" of 3 to 200 characters"));
        }

        var slashes = name.Count(c => c == '/');
        if (slashes == 0)
        {
            problems.Add(Problem.Error(path, "name.missing-slash", $"the server name \"{name}\" must be in the form 'dns-namespace/name'",
                $"put a slash between the reverse-DNS namespace and the name, such as \"com.example/{name}\""));
            return;
        }

        if (slashes > 1)
        {
            problems.Add(Problem.Error(path, "name.multiple-slashes", $"the server name \"{name}\" contains {slashes} slashes; a server name cannot contain multiple slashes",
                "keep exactly one slash, between the namespace and the name (\"com.example/server-path\" rather than \"com.example/server/path\")"));
            return;
        }

        var slash = name.IndexOf('/', StringComparison.Ordinal);
        var ns = name[..slash];
        var part = name[(slash + 1)..];
        if (ns.Length == 0 || part.Length == 0)
        {
            problems.Add(Problem.Error(path, "name.empty-part", $"the server name \"{name}\" must have a non-empty namespace and name on both sides of the slash",
                "write both parts, such as \"com.example/my-server\""));
            return;
        }

        if (!Namespace().IsMatch(ns))
        {
            problems.Add(Problem.Error(path, "name.pattern", $"the namespace \"{ns}\" of server name \"{name}\" is invalid: it must start and end with a letter or digit and contain only letters, digits, dots and hyphens",
                "use a reverse-DNS namespace such as \"com.example\" or \"io.github.user\""));
        }

        if (!NamePart().IsMatch(part))
        {
            problems.Add(Problem.Error(path, "name.pattern", $"the name part \"{part}\" of server name \"{name}\" is invalid: it must start and end with a letter or digit and contain only letters, digits, dots, underscores and hyphens",
                "use a name part such as \"weather\" or \"my_server-2\""));
        }
    }

    // ---- $schema and _meta --------------------------------------------------------------------------------------

    public static void ValidateSchema(string? schema, string path, List<Problem> problems)
    {
        const string Expected = "https://static.modelcontextprotocol.io/schemas/" + CurrentSchemaDate + "/server.schema.json";
        if (string.IsNullOrEmpty(schema))
        {
            problems.Add(Problem.Warning(path, "schema.missing", "the server has no $schema; the official registry refuses to publish without it",
                $"add \"$schema\": \"{Expected}\""));
            return;
        }

        string? date;
        var strict = SchemaUrl().Match(schema);
        if (strict.Success)
        {
            date = strict.Groups[1].Value;
        }
        else
        {
            var loose = LooseSchemaUrl().Match(schema);
            date = loose.Success ? loose.Groups[1].Value : null;
            problems.Add(Problem.Warning(path, "schema.url", $"the $schema \"{schema}\" is not of the form https://static.modelcontextprotocol.io/schemas/<date>/server.schema.json",
                $"use \"{Expected}\""));
        }

        if (date is null)
        {
            return;
        }

        if (!KnownSchemaDates.Contains(date, StringComparer.Ordinal))
        {
            problems.Add(Problem.Error(path, "schema.unknown-version", $"the $schema \"{schema}\" names schema version {date}, which does not exist",
                $"use a published schema version; the current one is {CurrentSchemaDate}: \"{Expected}\""));
        }
        else if (!string.Equals(date, CurrentSchemaDate, StringComparison.Ordinal))
        {
            problems.Add(Problem.Warning(path, "schema.older", $"the $schema \"{schema}\" is an older schema ({date}); the current one is {CurrentSchemaDate}",
                $"check the server.json against the {CurrentSchemaDate} schema and set \"$schema\": \"{Expected}\""));
        }
    }

    public static void ValidatePublisherMeta(ServerDetail server, string metaPath, List<Problem> problems)
    {
        if (server.PublisherProvided is not { } block)
        {
            return;
        }

        var size = CompactSize(block);
        if (size > MaxPublisherMetaBytes)
        {
            problems.Add(Problem.Error(JsonPath.Field(metaPath, MetaKeys.PublisherProvided), "meta.publisher-provided-too-large",
                $"the publisher-provided _meta block is {size.ToString(CultureInfo.InvariantCulture)} bytes; the limit is 4 KB ({MaxPublisherMetaBytes.ToString(CultureInfo.InvariantCulture)} bytes)",
                "keep publisher metadata small: move large data to the website or repository and link to it"));
        }
    }

    private static long CompactSize(JsonElement element)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            element.WriteTo(writer);
        }

        return buffer.Length;
    }

    // ---- description, title, version -------------------------------------------------------------------------

    public static void ValidateDescription(string description, string path, List<Problem> problems)
    {
        var length = Text.Length(description);
        if (length is < 1 or > 100)
        {
            problems.Add(Problem.Error(path, "description.length",
                length == 0 ? "the description is empty" : $"the description \"{Text.Clip(description)}\" is {length} characters long; the limit is 100",
                "write a one-line description of 1 to 100 characters"));
        }
    }

    public static void ValidateTitle(string? title, string path, List<Problem> problems)
    {
        if (title is null)
        {
            return;
        }

        var length = Text.Length(title);
        if (length is < 1 or > 100)
        {
            problems.Add(Problem.Error(path, "title.length",
                length == 0 ? "the title is empty" : $"the title \"{Text.Clip(title)}\" is {length} characters long; the limit is 100",
                "give a display title of 1 to 100 characters, or leave the field out"));
        }
        else if (string.IsNullOrWhiteSpace(title))
        {
            problems.Add(Problem.Error(path, "title.whitespace", "the title cannot be only whitespace",
                "give a readable display title, or leave the field out"));
        }
    }

    public static void ValidateServerVersion(string version, string path, List<Problem> problems)
    {
        if (version.Length == 0)
        {
            problems.Add(Problem.Error(path, "version.required", "the server version is missing",
                "give the exact version being described, such as \"1.0.2\""));
            return;
        }

        ValidateSpecificVersion(version, path, problems);
    }

    public static void ValidatePackageVersion(string? version, string path, List<Problem> problems)
    {
        if (version is null)
        {
            return;
        }

        if (version.Length == 0)
        {
            problems.Add(Problem.Error(path, "version.empty", "the package version is an empty string",
                "give the exact package version, such as \"1.0.2\", or leave the field out (for OCI and MCPB the version lives in the identifier)"));
            return;
        }

        ValidateSpecificVersion(version, path, problems);
    }

    private static void ValidateSpecificVersion(string version, string path, List<Problem> problems)
    {
        if (string.Equals(version, ServerVersions.Latest, StringComparison.Ordinal))
        {
            problems.Add(Problem.Error(path, "version.reserved", "the version string 'latest' is reserved and cannot be used",
                "give the exact version, such as \"1.0.2\"; clients ask for the latest version themselves"));
        }
        else if (ServerVersions.LooksLikeRange(version))
        {
            problems.Add(Problem.Error(path, "version.range", $"the version \"{version}\" is a range; a version must be a specific version, not a range",
                "give one exact version such as \"1.2.3\" rather than \"^1.2.3\", \"~1.2\", \">=1.0.0\", \"1.x\" or \"1.2 || 1.3\""));
        }

        var length = Text.Length(version);
        if (length > 255)
        {
            problems.Add(Problem.Error(path, "version.length", $"the version \"{Text.Clip(version)}\" is {length} characters long; the limit is 255",
                "use a version string of at most 255 characters"));
        }
    }

    // ---- repository, website, icons ---------------------------------------------------------------------------

    public static void ValidateRepository(Repository? repository, string path, List<Problem> problems)
    {
        if (repository is null || (string.IsNullOrEmpty(repository.Url) && string.IsNullOrEmpty(repository.Source)))
        {
            return;
        }

        var url = repository.Url ?? "";
        switch (repository.Source)
        {
            case "github":
                if (!GitHubUrl().IsMatch(url))
                {
                    problems.Add(Problem.Error(JsonPath.Field(path, "url"), "repository.url", $"the repository URL \"{url}\" is not a GitHub repository URL",
                        "use the repository's address, such as \"https://github.com/owner/repo\""));
                }

                break;
            case "gitlab":
                if (!GitLabUrl().IsMatch(url))
                {
                    problems.Add(Problem.Error(JsonPath.Field(path, "url"), "repository.url", $"the repository URL \"{url}\" is not a GitLab repository URL",
                        "use the project's address, such as \"https://gitlab.com/group/project\" (subgroups allowed)"));
                }

                break;
            default:
                problems.Add(Problem.Error(JsonPath.Field(path, "source"), "repository.source",
                    $"the repository source \"{repository.Source ?? ""}\" is not supported (repository URL \"{url}\")",
                    "set \"source\" to \"github\" or \"gitlab\" with the matching repository URL, or leave the repository out"));
                break;
        }

        if (!string.IsNullOrEmpty(repository.Subfolder) && !IsValidSubfolder(repository.Subfolder))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "subfolder"), "repository.subfolder", $"the repository subfolder \"{repository.Subfolder}\" is not a clean relative path",
                "write a relative path such as \"servers/weather\": no leading or trailing slash, no \".\", \"..\" or empty segments, only letters, digits, '-', '_', '.' and '/'"));
        }
    }

    public static bool IsValidSubfolder(string subfolder) =>
        !subfolder.StartsWith('/') && !subfolder.EndsWith('/') && SubfolderChars().IsMatch(subfolder) &&
        subfolder.Split('/').All(s => s.Length > 0 && s != "." && s != "..");

    public static void ValidateWebsiteUrl(string? websiteUrl, string path, List<Problem> problems)
    {
        if (string.IsNullOrEmpty(websiteUrl))
        {
            return;
        }

        var bad = websiteUrl.IndexOfAny(['"', '\'', '<', '>', ' ', '\t', '\n', '\r']);
        if (bad >= 0)
        {
            problems.Add(Problem.Error(path, "website-url.invalid-character", $"the websiteUrl \"{websiteUrl}\" contains an invalid character ({Text.Describe(websiteUrl[bad])})",
                "percent-encode the character (a space is %20, a double quote %22) or remove it"));
            return;
        }

        if (!UrlTemplates.TryParseAbsolute(websiteUrl, out var uri))
        {
            problems.Add(Problem.Error(path, "website-url.not-absolute", $"the websiteUrl \"{websiteUrl}\" must be absolute (include scheme)",
                $"write the full address, such as \"https://{websiteUrl.TrimStart('/')}\""));
            return;
        }

        if (uri.Scheme != Uri.UriSchemeHttps)
        {
            problems.Add(Problem.Error(path, "website-url.not-https", $"the websiteUrl \"{websiteUrl}\" must use the https scheme",
                "serve the website over HTTPS and use its https:// address"));
        }
    }

    public static void ValidateIcons(IReadOnlyList<Icon>? icons, string path, List<Problem> problems)
    {
        if (icons is null)
        {
            return;
        }

        for (var i = 0; i < icons.Count; i++)
        {
            var icon = icons[i];
            var at = JsonPath.Index(path, i);
            var src = JsonPath.Field(at, "src");
            if (Text.Length(icon.Src) > 255)
            {
                problems.Add(Problem.Error(src, "icon.src-too-long", $"the icon src \"{Text.Clip(icon.Src)}\" is longer than 255 characters",
                    "host the icon at a shorter https:// address"));
            }

            if (!UrlTemplates.TryParseAbsolute(icon.Src, out var uri))
            {
                problems.Add(Problem.Error(src, "icon.src-not-absolute", $"the icon src \"{icon.Src}\" must be an absolute URL (include scheme)",
                    "give the icon's full https:// address"));
            }
            else if (uri.Scheme != Uri.UriSchemeHttps)
            {
                problems.Add(Problem.Error(src, "icon.src-not-https", $"the icon src \"{icon.Src}\" must use the https scheme (got {uri.Scheme})",
                    "host the icon over HTTPS; http: and data: URLs are not allowed"));
            }

            if (icon.MimeType is { } mime && !IconMimeTypes.Contains(mime, StringComparer.Ordinal))
            {
                problems.Add(Problem.Error(JsonPath.Field(at, "mimeType"), "icon.mime-type", $"the icon mimeType \"{mime}\" is not supported",
                    "use one of " + string.Join(", ", IconMimeTypes)));
            }

            if (icon.Sizes is { } sizes)
            {
                for (var j = 0; j < sizes.Count; j++)
                {
                    if (!IconSize().IsMatch(sizes[j]))
                    {
                        problems.Add(Problem.Error(JsonPath.Index(JsonPath.Field(at, "sizes"), j), "icon.sizes", $"the icon size \"{sizes[j]}\" is not of the form WIDTHxHEIGHT or \"any\"",
                            "write sizes such as \"48x48\" or \"any\""));
                    }
                }
            }

            if (icon.Theme is { } theme && !IconThemes.Contains(theme, StringComparer.Ordinal))
            {
                problems.Add(Problem.Error(JsonPath.Field(at, "theme"), "icon.theme", $"the icon theme \"{theme}\" is not supported",
                    "use \"light\" or \"dark\", or leave the theme out"));
            }
        }
    }

    // ---- packages ---------------------------------------------------------------------------------------------

    public static void ValidatePackage(Package package, string path, bool kiro, List<Problem> problems)
    {
        if (kiro)
        {
            KiroRules.ValidatePackage(package, path, problems);
        }
        else
        {
            if (!RegistryTypes.All.Contains(package.RegistryType, StringComparer.Ordinal))
            {
                problems.Add(Problem.Error(JsonPath.Field(path, "registryType"), "package.registry-type", $"unsupported registry type \"{package.RegistryType}\"",
                    "use one of " + string.Join(", ", RegistryTypes.All) + " (a Docker image is \"oci\", a release download is \"mcpb\")"));
            }

            ValidatePackageVersion(package.Version, JsonPath.Field(path, "version"), problems);

            if (package.FileSha256 is { } sha && !Sha256().IsMatch(sha))
            {
                problems.Add(Problem.Error(JsonPath.Field(path, "fileSha256"), "package.file-sha256", $"the fileSha256 \"{sha}\" is not 64 lowercase hexadecimal digits",
                    "give the file's SHA-256 in lowercase hex, as `sha256sum` prints it"));
            }
            else if (package.FileSha256 is null && string.Equals(package.RegistryType, RegistryTypes.Mcpb, StringComparison.Ordinal))
            {
                problems.Add(Problem.Warning(path, "package.mcpb-missing-sha256", $"the MCPB package \"{package.Identifier}\" has no fileSha256, so clients cannot verify the download",
                    "add \"fileSha256\" with the bundle's SHA-256 (the official registry requires it for MCPB)"));
            }
        }

        if (package.Identifier.StartsWith('-'))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "identifier"), "package.identifier-option", $"the package identifier \"{package.Identifier}\" begins with '-', so npx, uvx, docker or dnx would read it as one of their options",
                "give the package name (\"@scope/name\", \"name\", \"registry/image\"); a package name never begins with '-'"));
        }

        if (package.Identifier.Any(char.IsWhiteSpace))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "identifier"), "package.identifier-whitespace", $"the package identifier \"{package.Identifier}\" contains whitespace",
                "give the bare package name, image reference or download URL; put arguments in runtimeArguments or packageArguments"));
        }

        ValidateArguments(package.RuntimeArguments, JsonPath.Field(path, "runtimeArguments"), kiro, problems);
        ValidateArguments(package.PackageArguments, JsonPath.Field(path, "packageArguments"), kiro, problems);
        ValidateKeyValues(package.EnvironmentVariables, JsonPath.Field(path, "environmentVariables"), "environment variable", kiro, problems);
        if (!kiro)
        {
            ValidatePackageTransport(package, JsonPath.Field(path, "transport"), problems);
        }
    }

    private static void ValidateArguments(IReadOnlyList<Argument>? arguments, string path, bool kiro, List<Problem> problems)
    {
        if (arguments is null)
        {
            return;
        }

        for (var i = 0; i < arguments.Count; i++)
        {
            var at = JsonPath.Index(path, i);
            if (kiro)
            {
                KiroRules.ValidateArgument(arguments[i], at, problems);
            }

            ValidateArgument(arguments[i], at, problems);
        }
    }

    public static void ValidateArgument(Argument argument, string path, List<Problem> problems)
    {
        switch (argument.Type)
        {
            case "":
                problems.Add(Problem.Warning(JsonPath.Field(path, "type"), "argument.type-empty", "the argument type is empty; it is treated as positional",
                    "set \"type\" to \"positional\" or \"named\""));
                ValidatePositional(argument, path, problems);
                break;
            case ArgumentTypes.Positional:
                ValidatePositional(argument, path, problems);
                break;
            case ArgumentTypes.Named:
                ValidateNamed(argument, path, problems);
                break;
            default:
                problems.Add(Problem.Error(JsonPath.Field(path, "type"), "argument.type", $"the argument type \"{argument.Type}\" is not supported; it must be 'positional' or 'named'",
                    "use \"positional\" for a bare value or \"named\" for a --flag"));
                break;
        }

        ValidateInput(argument, argument.Variables, path, "argument", problems);
    }

    private static void ValidatePositional(Argument argument, string path, List<Problem> problems)
    {
        if (string.IsNullOrEmpty(argument.Value) && string.IsNullOrEmpty(argument.ValueHint))
        {
            problems.Add(Problem.Error(path, "argument.positional-value", "the positional argument has neither a value nor a valueHint",
                "give a fixed \"value\", or a \"valueHint\" naming what the user supplies"));
        }
    }

    private static void ValidateNamed(Argument argument, string path, List<Problem> problems)
    {
        var name = argument.Name;
        if (string.IsNullOrEmpty(name))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "name"), "argument.name-required", "the named argument has no name",
                "give the flag as written on the command line, such as \"--port\""));
            return;
        }

        if (name.AsSpan().IndexOfAny("<> $") >= 0)
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "name"), "argument.name-invalid", $"the named argument name \"{name}\" contains '<', '>', a space or '$'",
                "keep only the flag in \"name\" (\"--port\"), put the value in \"value\" or \"default\" and describe it in \"description\""));
        }

        if (!string.IsNullOrEmpty(argument.Value) && argument.Value.StartsWith(name, StringComparison.Ordinal))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "value"), "argument.value-starts-with-name", $"the value \"{argument.Value}\" starts with the argument name \"{name}\"",
                $"write only the value: the client adds \"{name}\" itself"));
        }

        if (!string.IsNullOrEmpty(argument.Default) && argument.Default.StartsWith(name, StringComparison.Ordinal))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "default"), "argument.default-starts-with-name", $"the default \"{argument.Default}\" starts with the argument name \"{name}\"",
                $"write only the default value: the client adds \"{name}\" itself"));
        }
    }

    public static void ValidateKeyValues(IReadOnlyList<KeyValueInput>? inputs, string path, string kind, bool kiro, List<Problem> problems)
    {
        if (inputs is null)
        {
            return;
        }

        for (var i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            var at = JsonPath.Index(path, i);
            if (kiro)
            {
                KiroRules.ValidateKeyValue(input, at, kind, problems);
            }
            else if (input.Name.Length == 0)
            {
                problems.Add(Problem.Warning(JsonPath.Field(at, "name"), "key-value.name-empty", $"the {kind} has an empty name",
                    $"give the {kind} its name"));
            }

            ValidateInput(input, input.Variables, at, kind, problems);
        }
    }

    /// <summary>Format, choices and <c>{variables}</c> of an input (argument, env var, header) and of its own variables.</summary>
    private static void ValidateInput(Input input, IReadOnlyDictionary<string, Input>? variables, string path, string kind, List<Problem> problems)
    {
        ValidateInputValues(input, path, problems);

        foreach (var used in UrlTemplates.Variables(input.Value).Distinct(StringComparer.Ordinal))
        {
            if (variables is null || !variables.ContainsKey(used))
            {
                problems.Add(Problem.Warning(JsonPath.Field(path, "value"), "input.undeclared-variable",
                    $"the {kind} value \"{input.Value}\" uses {{{used}}}, which is not declared in its variables; clients leave it unchanged",
                    $"declare \"{used}\" under \"variables\" of this {kind}, or remove the braces"));
            }
        }

        if (variables is null)
        {
            return;
        }

        foreach (var (name, variable) in variables)
        {
            ValidateInputValues(variable, JsonPath.Field(JsonPath.Field(path, "variables"), name), problems);
        }
    }

    private static void ValidateInputValues(Input input, string path, List<Problem> problems)
    {
        ValidateSecret(input, path, problems);
        if (input.Format is { } format && !InputFormats.All.Contains(format, StringComparer.Ordinal))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "format"), "input.format", $"the format \"{format}\" is not supported",
                "use one of " + string.Join(", ", InputFormats.All)));
        }

        if (input.Choices is not { Count: > 0 } choices)
        {
            return;
        }

        if (input.Default is { } def && !choices.Contains(def, StringComparer.Ordinal))
        {
            problems.Add(Problem.Warning(JsonPath.Field(path, "default"), "input.choice", $"the default \"{def}\" is not one of the choices ({string.Join(", ", choices)})",
                "make the default one of the choices, or add it to them"));
        }

        if (input.Value is { } value && !choices.Contains(value, StringComparer.Ordinal))
        {
            problems.Add(Problem.Warning(JsonPath.Field(path, "value"), "input.choice", $"the value \"{value}\" is not one of the choices ({string.Join(", ", choices)})",
                "make the value one of the choices, or add it to them"));
        }
    }

    /// <summary>
    /// A secret (<c>isSecret: true</c>) must not carry its value in the document: a registry serves server.json to
    /// everyone who reads it. A <c>value</c> that is a template of <c>{variables}</c> (<c>Bearer {token}</c>) is the
    /// way to say where the secret goes; a <c>default</c>, or a <c>value</c> with no variable in it, publishes it.
    /// </summary>
    private static void ValidateSecret(Input input, string path, List<Problem> problems)
    {
        if (!SecretValues.Publishes(input, out var field))
        {
            return;
        }

        problems.Add(Problem.Error(JsonPath.Field(path, field), SecretValues.Rule,
            $"a secret (isSecret: true) has a {field}; the registry would publish it to everyone who reads this server.json",
            $"use a {{placeholder}} variable or drop the {field}; secrets are supplied by the developer"));
    }

    // ---- transports -------------------------------------------------------------------------------------------

    private static void ValidatePackageTransport(Package package, string path, List<Problem> problems)
    {
        var transport = package.Transport;
        var url = transport.Url;
        var urlPath = JsonPath.Field(path, "url");
        switch (transport.Type)
        {
            case TransportTypes.Stdio:
                if (!string.IsNullOrEmpty(url))
                {
                    problems.Add(Problem.Error(urlPath, "transport.url-not-allowed", $"the url must be empty for the stdio transport, got \"{url}\"",
                        "remove \"url\", or use the streamable-http or sse transport if the package serves HTTP"));
                }

                break;
            case TransportTypes.StreamableHttp:
            case TransportTypes.Sse:
                if (string.IsNullOrEmpty(url))
                {
                    problems.Add(Problem.Error(urlPath, "transport.url-required", $"a url is required for the {transport.Type} transport",
                        "give the address the package listens on, such as \"http://localhost:{--port}/mcp\""));
                    break;
                }

                if (!UrlTemplates.IsHttpUrl(url, out _))
                {
                    problems.Add(Problem.Error(urlPath, "transport.url-invalid", $"the transport url \"{url}\" is not a valid http(s) URL",
                        "write an absolute http:// or https:// URL with a host; {variables} may stand for the host, port or path"));
                }

                var available = AvailablePackageVariables(package);
                foreach (var used in UrlTemplates.Variables(url).Distinct(StringComparer.Ordinal))
                {
                    if (!available.Contains(used))
                    {
                        problems.Add(Problem.Error(urlPath, "transport.url-undeclared-variable",
                            $"the transport url \"{url}\" uses {{{used}}}, which is not an environment variable, argument name or valueHint of the package" +
                            (available.Count == 0 ? "" : $" (available: {string.Join(", ", available.Order(StringComparer.Ordinal))})"),
                            $"declare \"{used}\" as an environment variable, a named argument or an argument valueHint of this package"));
                    }
                }

                break;
            default:
                problems.Add(Problem.Error(JsonPath.Field(path, "type"), "transport.type", $"unsupported transport type \"{transport.Type}\"",
                    "use \"stdio\", \"streamable-http\" or \"sse\""));
                break;
        }

        ValidateKeyValues(transport.Headers, JsonPath.Field(path, "headers"), "header", kiro: false, problems);
    }

    private static HashSet<string> AvailablePackageVariables(Package package)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var env in package.EnvironmentVariables ?? [])
        {
            names.Add(env.Name);
        }

        foreach (var argument in (package.RuntimeArguments ?? []).Concat(package.PackageArguments ?? []))
        {
            if (!string.IsNullOrEmpty(argument.Name))
            {
                names.Add(argument.Name);
            }

            if (!string.IsNullOrEmpty(argument.ValueHint))
            {
                names.Add(argument.ValueHint);
            }
        }

        names.Remove("");
        return names;
    }

    public static void ValidateRemote(RemoteTransport remote, string path, bool kiro, List<Problem> problems)
    {
        var urlPath = JsonPath.Field(path, "url");
        var verdict = UrlRules.JudgeTemplate(remote.Url, allowLoopbackHttp: false);
        if (remote.Type is not (TransportTypes.StreamableHttp or TransportTypes.Sse))
        {
            problems.Add(Problem.Error(JsonPath.Field(path, "type"), "remote.type", $"unsupported transport type for remotes \"{remote.Type}\" (only streamable-http and sse are supported)",
                "use \"streamable-http\" (or \"sse\" for older servers); a stdio server is a package, not a remote"));
        }

        if (remote.Url.Length == 0)
        {
            problems.Add(Problem.Error(urlPath, "remote.url-required", "the remote has no url",
                "give the remote's https:// endpoint"));
        }
        else if (verdict == UrlRules.TemplateVerdict.SchemeVariable && UrlTemplates.SchemeVariable(remote.Url) is { } scheme)
        {
            // A developer's value would choose plain http, which UrlRules refuses. (A variable for the host is allowed
            // under https; the launch planner refuses values that point the remote at this machine.)
            problems.Add(Problem.Error(urlPath, "remote.url-variable-scheme", $"the remote url \"{remote.Url}\" takes its scheme from {{{scheme}}}; a variable cannot choose between https and plain http",
                "write the scheme out, such as \"https://{host}/mcp\"; a variable may stand for the host, the port or a path segment"));
        }
        else if (!UrlTemplates.IsHttpUrl(remote.Url, out var uri))
        {
            problems.Add(Problem.Error(urlPath, "remote.url-invalid", $"the remote url \"{remote.Url}\" is not a valid URL",
                "write an absolute https:// URL with a host, such as \"https://mcp.example.com/mcp\""));
        }
        else
        {
            // No loopback exception for a registry's remote: every client connects to it, over the network.
            if (verdict != UrlRules.TemplateVerdict.Allowed)
            {
                var why = verdict == UrlRules.TemplateVerdict.PlainHttpVariableHost ? " (its host comes from a variable, so a value could send it to any machine)" : "";
                problems.Add(Problem.Error(urlPath, "remote.url-not-https", $"the remote url \"{remote.Url}\" must use https{why}",
                    "serve the remote over HTTPS and use its https:// address"));
            }

            if (UrlRules.PointsAtThisMachine(uri))
            {
                problems.Add(Problem.Error(urlPath, "remote.url-localhost", $"the remote url \"{remote.Url}\" points at this machine ({uri.Host})",
                    "a remote must be reachable by every client: use its public address, or publish a package for a local server"));
            }
        }

        foreach (var used in UrlTemplates.Variables(remote.Url).Distinct(StringComparer.Ordinal))
        {
            if (remote.Variables is null || !remote.Variables.ContainsKey(used))
            {
                problems.Add(Problem.Error(urlPath, "remote.url-undeclared-variable",
                    $"the remote url \"{remote.Url}\" uses {{{used}}}, which is not declared in the remote's variables",
                    $"declare \"{used}\" under \"variables\" of this remote"));
            }
        }

        ValidateKeyValues(remote.Headers, JsonPath.Field(path, "headers"), "header", kiro, problems);
        if (remote.Variables is not null)
        {
            foreach (var (name, variable) in remote.Variables)
            {
                ValidateInputValues(variable, JsonPath.Field(JsonPath.Field(path, "variables"), name), problems);
            }
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex Namespace();

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePart();

    [GeneratedRegex(@"^https://static\.modelcontextprotocol\.io/schemas/([0-9]{4}-[0-9]{2}-[0-9]{2})/server\.schema\.json$", RegexOptions.CultureInvariant)]
    private static partial Regex SchemaUrl();

    [GeneratedRegex(@"/schemas/([0-9]{4}-[0-9]{2}-[0-9]{2})/server\.schema\.json", RegexOptions.CultureInvariant)]
    private static partial Regex LooseSchemaUrl();

    [GeneratedRegex(@"^https?://(www\.)?github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/?$", RegexOptions.CultureInvariant)]
    private static partial Regex GitHubUrl();

    [GeneratedRegex(@"^https?://(www\.)?gitlab\.com/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+/?$", RegexOptions.CultureInvariant)]
    private static partial Regex GitLabUrl();

    [GeneratedRegex(@"^[a-zA-Z0-9\-_./]+$", RegexOptions.CultureInvariant)]
    private static partial Regex SubfolderChars();

    [GeneratedRegex("^[a-f0-9]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Sha256();

    [GeneratedRegex("^([0-9]+x[0-9]+|any)$", RegexOptions.CultureInvariant)]
    private static partial Regex IconSize();
}

/// <summary>Small text helpers for messages and JSON-Schema-style lengths (counted in Unicode code points).</summary>
internal static class Text
{
    public static int Length(string text) => text.EnumerateRunes().Count();

    public static string Clip(string text) => text.Length <= 60 ? text : text[..57] + "...";

    public static string Describe(char c) => c switch
    {
        ' ' => "a space",
        '\t' => "a tab",
        '\n' => "a line feed",
        '\r' => "a carriage return",
        _ => "'" + c + "'",
    };
}
