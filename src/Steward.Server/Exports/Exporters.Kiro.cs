using Steward.Core.Launch;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Server.Exports;

// Kiro's registry file (`kiro`): entries with fixed launches only, each named by its flat name.
public static partial class Exporters
{
    /// <summary>
    /// The Kiro registry file: one package (npm, pypi or oci over stdio, every argument a fixed value) or else one remote
    /// per server, the package version pinned in the identifier; fixed environment variables and headers as name/value.
    /// With MCP off in the profile, the file lists no server (Kiro then stops every installed one).
    /// </summary>
    public static ExportResult Kiro(IReadOnlyList<ServerDetail> admitted, ProfileSettings settings)
    {
        ArgumentNullException.ThrowIfNull(admitted);
        ArgumentNullException.ThrowIfNull(settings);
        var notes = new List<string>();
        var skipped = new List<SkippedEntry>();
        var written = new List<byte[]>();
        if (!settings.McpEnabled)
        {
            notes.Add("MCP is disabled in this profile: the file lists no server, so Kiro stops the servers it runs");
            admitted = [];
        }

        var names = HostServerNames.Flat(admitted.Select(s => s.Name));
        foreach (var server in admitted)
        {
            var reasons = new List<string>();
            var entry = KiroEntry(server, names[server.Name], reasons);
            if (entry is null)
            {
                skipped.Add(new SkippedEntry(server.Name, server.Version, reasons));
                continue;
            }

            var check = RegistryLoader.Load(Wrap([entry]), RegistryShape.KiroFile);
            if (!check.IsValid)
            {
                skipped.Add(new SkippedEntry(server.Name, server.Version,
                    check.Failure is { } failure ? [failure.ToString()] : [.. check.Problems.Where(p => p.IsError).Select(p => $"{p.Path}: {p.Message}")]));
                continue;
            }

            written.Add(entry);
        }

        return new ExportResult(Wrap(written), skipped, notes, written.Count);
    }

    private static byte[] Wrap(IReadOnlyList<byte[]> entries) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("servers");
        foreach (var entry in entries)
        {
            w.WriteRawValue(entry, skipInputValidation: true);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static byte[]? KiroEntry(ServerDetail server, string flatName, List<string> reasons)
    {
        Action<Utf8JsonWriter>? endpoint = null;
        for (var i = 0; i < (server.Packages?.Count ?? 0) && endpoint is null; i++)
        {
            endpoint = KiroPackage(server.Packages![i], $"packages[{i}]", reasons);
        }

        for (var i = 0; i < (server.Remotes?.Count ?? 0) && endpoint is null; i++)
        {
            endpoint = KiroRemote(server.Remotes![i], $"remotes[{i}]", reasons);
        }

        if (endpoint is null)
        {
            if (reasons.Count == 0)
            {
                reasons.Add("the entry has neither a package nor a remote");
            }

            return null;
        }

        return ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("server");
            w.WriteString("name", flatName);
            if (server.Title is { Length: > 0 } title)
            {
                w.WriteString("title", Shorten(title, KiroTextLimit));
            }

            w.WriteString("description", Shorten(server.Description, KiroTextLimit));
            w.WriteString("version", server.Version);
            endpoint(w);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private static Action<Utf8JsonWriter>? KiroPackage(Package package, string path, List<string> reasons)
    {
        if (package.RegistryType is not (RegistryTypes.Npm or RegistryTypes.Pypi or RegistryTypes.Oci))
        {
            reasons.Add($"{path}: Kiro runs npm, pypi and oci packages only, not {package.RegistryType}");
            return null;
        }

        if (package.Transport.Type != TransportTypes.Stdio)
        {
            reasons.Add($"{path}: Kiro runs packages over stdio only, not {package.Transport.Type}");
            return null;
        }

        var before = reasons.Count;
        var runtime = FixedArguments(package.RuntimeArguments, path + ".runtimeArguments", reasons);
        var arguments = FixedArguments(package.PackageArguments, path + ".packageArguments", reasons);
        var environment = FixedValues(package.EnvironmentVariables, path + ".environmentVariables", "environment variable", reasons, secretsAllowed: false);
        if (reasons.Count > before)
        {
            return null;
        }

        var identifier = Runners.PackageSpec(package);
        return w =>
        {
            w.WriteStartArray("packages");
            w.WriteStartObject();
            w.WriteString("registryType", package.RegistryType);
            if (package.RegistryBaseUrl is { } baseUrl)
            {
                w.WriteString("registryBaseUrl", baseUrl);
            }

            w.WriteString("identifier", identifier);
            w.WriteStartObject("transport");
            w.WriteString("type", TransportTypes.Stdio);
            w.WriteEndObject();
            WritePositional(w, "runtimeArguments", runtime!);
            WritePositional(w, "packageArguments", arguments!);
            WriteNameValues(w, "environmentVariables", environment!);
            w.WriteEndObject();
            w.WriteEndArray();
        };
    }

    private static Action<Utf8JsonWriter>? KiroRemote(RemoteTransport remote, string path, List<string> reasons)
    {
        if (remote.Type is not (TransportTypes.StreamableHttp or TransportTypes.Sse))
        {
            reasons.Add($"{path}: Kiro connects to streamable-http and sse remotes only, not {remote.Type}");
            return null;
        }

        var before = reasons.Count;
        var url = Substitute(remote.Url, remote.Variables, path + ".url", reasons, fixedOnly: true);
        var headers = FixedValues(remote.Headers, path + ".headers", "header", reasons, secretsAllowed: false);
        if (reasons.Count > before)
        {
            return null;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            reasons.Add($"{path}.url: Kiro needs an https URL, not \"{url}\"");
            return null;
        }

        return w =>
        {
            w.WriteStartArray("remotes");
            w.WriteStartObject();
            w.WriteString("type", remote.Type);
            w.WriteString("url", url);
            WriteNameValues(w, "headers", headers!);
            w.WriteEndObject();
            w.WriteEndArray();
        };
    }

    /// <summary>
    /// Arguments as fixed positional values: a positional argument's value (else its default); a named one becomes its
    /// name then its value, a boolean flag its name alone when true (as the launcher builds them). An optional argument
    /// without a value is left out, as the launcher leaves it out; a required one is a reason the entry cannot be expressed.
    /// </summary>
    private static List<string>? FixedArguments(IReadOnlyList<Argument>? arguments, string path, List<string> reasons)
    {
        var result = new List<string>();
        var before = reasons.Count;
        for (var i = 0; i < (arguments?.Count ?? 0); i++)
        {
            var argument = arguments![i];
            var argumentPath = $"{path}[{i}]";
            var label = argument.IsNamed ? $"named argument \"{argument.Name}\"" : $"argument \"{argument.ValueHint ?? argument.Value ?? "?"}\"";
            var raw = argument.Value ?? argument.Default;
            if (raw is null)
            {
                if (argument.Required)
                {
                    reasons.Add($"{argumentPath}: the required {label} has no fixed value; Kiro cannot ask the user for it");
                }

                continue;
            }

            if (argument.Secret)
            {
                reasons.Add($"{argumentPath}: the {label} is secret; a secret is not published in a registry file");
                continue;
            }

            var value = Substitute(raw, argument.Variables, argumentPath, reasons, fixedOnly: true);
            if (value is null)
            {
                continue;
            }

            if (!argument.IsNamed)
            {
                result.Add(value);
            }
            else if (argument.Format == InputFormats.Boolean)
            {
                if (value == "true")
                {
                    result.Add(argument.Name!);
                }
            }
            else
            {
                result.Add(argument.Name!);
                result.Add(value);
            }
        }

        return reasons.Count > before ? null : result;
    }

    private static List<KeyValuePair<string, string>>? FixedValues(IReadOnlyList<KeyValueInput>? inputs, string path, string kind, List<string> reasons, bool secretsAllowed)
    {
        var result = new List<KeyValuePair<string, string>>();
        var before = reasons.Count;
        for (var i = 0; i < (inputs?.Count ?? 0); i++)
        {
            var input = inputs![i];
            var inputPath = $"{path}[{i}]";
            var raw = input.Value ?? input.Default;
            if (raw is null)
            {
                if (input.Required)
                {
                    reasons.Add($"{inputPath}: the required {kind} {input.Name} has no fixed value; the host cannot ask the user for it");
                }

                continue;
            }

            if (input.Secret && !secretsAllowed)
            {
                reasons.Add($"{inputPath}: the {kind} {input.Name} is secret; a secret is not published in an export");
                continue;
            }

            if (Substitute(raw, input.Variables, inputPath, reasons, fixedOnly: true) is { } value)
            {
                result.Add(new KeyValuePair<string, string>(input.Name, value));
            }
        }

        return reasons.Count > before ? null : result;
    }

    /// <summary>
    /// Replaces each declared <c>{variable}</c> with its fixed value (else its default when <paramref name="fixedOnly"/>);
    /// one that has neither is a reason. An undeclared <c>{x}</c> stays as written, as the launcher leaves it.
    /// </summary>
    private static string? Substitute(string text, IReadOnlyDictionary<string, Input>? variables, string path, List<string> reasons, bool fixedOnly)
    {
        var result = text;
        foreach (var name in UrlTemplates.Variables(text).Distinct(StringComparer.Ordinal))
        {
            if (variables is null || !variables.TryGetValue(name, out var variable))
            {
                continue;
            }

            var value = variable.Value ?? (fixedOnly ? variable.Default : null);
            if (value is null || variable.Secret)
            {
                reasons.Add($"{path}: the variable {{{name}}} has no fixed value{(variable.Secret ? " (or is secret)" : "")}; the host cannot ask the user for it");
                return null;
            }

            result = result.Replace("{" + name + "}", value, StringComparison.Ordinal);
        }

        return result;
    }

    private static void WritePositional(Utf8JsonWriter w, string property, List<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        w.WriteStartArray(property);
        foreach (var value in values)
        {
            w.WriteStartObject();
            w.WriteString("type", ArgumentTypes.Positional);
            w.WriteString("value", value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteNameValues(Utf8JsonWriter w, string property, List<KeyValuePair<string, string>> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        w.WriteStartArray(property);
        foreach (var (name, value) in values)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("value", value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    // ---------------------------------------------------------------- Claude Code managed-mcp.json
}
