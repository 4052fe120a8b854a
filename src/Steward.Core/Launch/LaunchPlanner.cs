using System.Collections.Immutable;
using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Core.Launch;

/// <summary>
/// Turns a server.json package and the user's inputs into a <see cref="LaunchPlan"/> (see <see cref="Runners"/> for
/// the argument vector of each runner), or into the list of every input that is missing or invalid. It never throws on
/// bad input and never builds a command string: each value becomes exactly one argument, however many spaces, quotes,
/// semicolons, <c>$(…)</c>, newlines or leading dashes it holds.
/// </summary>
/// <remarks>
/// Arguments, in declaration order:
/// <list type="bullet">
/// <item><description>A fixed <c>value</c> is used as written, its <c>{variables}</c> substituted from the argument's
/// <c>variables</c> (the user's value, else the variable's default; an unknown <c>{x}</c> stays as written). A fixed
/// value is not configurable: an input for the argument's key is ignored.</description></item>
/// <item><description>Otherwise the user's value(s) for the argument's key, else its <c>default</c>; a required argument
/// with neither is reported; an optional one is left out.</description></item>
/// <item><description>Positional: each value is one element. Named: the name then the value as two elements
/// (<c>--port</c>, <c>8080</c>), as VS Code launches registry servers; the schema's "<c>--flag={value}</c>" describes the
/// meaning, and two elements is the form every option parser accepts. A named argument of format <c>boolean</c> is a
/// bare flag: <c>true</c> gives <c>--flag</c>, <c>false</c> leaves it out.</description></item>
/// <item><description><c>isRepeated</c>: each of several values repeats the argument (<c>--mount a --mount b</c>);
/// several values for an argument that is not repeated are reported.</description></item>
/// <item><description>Inputs of format <c>number</c> must parse as an invariant-culture number, <c>boolean</c> must be
/// <c>true</c> or <c>false</c>, and a value with <c>choices</c> must be one of them.</description></item>
/// </list>
/// Environment: the entry's variables (value with variables substituted, else default; required and missing reported),
/// then the user's <see cref="LaunchInputs.Environment"/> on top, the user winning per name. Secret: every variable the
/// entry marks <c>isSecret</c> and every value the user supplied (a user's token cannot be told from a log level).
/// </remarks>
public static class LaunchPlanner
{
    public static LaunchResult Plan(Package package, LaunchInputs inputs, string path = "")
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(inputs);
        var (normalized, forwarded) = OciCommand.Normalize(package);
        package = normalized;
        var resolver = new InputResolver(inputs);

        var command = Runners.Command(package);
        if (command is null)
        {
            resolver.Problems.Add(new InputProblem(LaunchRules.NoRunner, JsonPath.Field(path, "registryType"), InputKind.None, null,
                $"Steward has no runner for \"{package.RegistryType}\" packages",
                package.RegistryType switch
                {
                    RegistryTypes.Cargo => "cargo has no per-run runner; publish the server as an npm, PyPI, OCI or NuGet package, or as a remote",
                    RegistryTypes.Mcpb => "an MCP bundle must be downloaded and verified first; publish the server as an npm, PyPI, OCI or NuGet package, or as a remote",
                    _ => "use an npm, PyPI, OCI or NuGet package, or a remote",
                }));
        }

        if (package.Identifier.StartsWith('-'))
        {
            // npx, uvx, docker and dnx would take "--registry=evil" or "-y" as an option of their own, not as the package.
            resolver.Problems.Add(new InputProblem(LaunchRules.IdentifierOption, JsonPath.Field(path, "identifier"), InputKind.None, null,
                $"the package identifier \"{package.Identifier}\" begins with '-', so {command ?? "the runner"} would read it as an option",
                "a package name never begins with '-'; fix the registry entry"));
        }

        var runtime = ResolveArguments(package.RuntimeArguments, JsonPath.Field(path, "runtimeArguments"), resolver, beforePackage: true);
        var packageArgs = ResolveArguments(package.PackageArguments, JsonPath.Field(path, "packageArguments"), resolver, beforePackage: false);
        var (environment, secretEnvironment) = resolver.ResolveKeyValues(
            package.EnvironmentVariables, inputs.Environment, path, "environmentVariables", InputKind.Environment, StringComparer.Ordinal);
        var transport = ResolveTransport(package, path, resolver, runtime, packageArgs, environment);

        if (resolver.Problems.Count > 0 || command is null || transport is null)
        {
            return new LaunchResult(null, [.. resolver.Problems]);
        }

        var args = new List<string>();
        var secretIndexes = ImmutableHashSet.CreateBuilder<int>();
        void Add(IEnumerable<Element> elements)
        {
            foreach (var element in elements)
            {
                if (element.Secret)
                {
                    secretIndexes.Add(args.Count);
                }

                args.Add(element.Text);
            }
        }

        var spec = Runners.PackageSpec(package);
        switch (package.RegistryType)
        {
            case RegistryTypes.Npm:
                args.Add("-y");
                Add(runtime.Elements);
                args.Add(spec);
                Add(packageArgs.Elements);
                break;
            case RegistryTypes.Pypi:
                Add(runtime.Elements);
                args.Add(spec);
                Add(packageArgs.Elements);
                break;
            case RegistryTypes.Oci:
                args.AddRange(["run", "-i", "--rm"]);
                Add(runtime.Elements);
                foreach (var name in OrderedNames(package, inputs, environment, forwarded))
                {
                    args.AddRange(["-e", name]);
                }

                args.Add(spec);
                Add(packageArgs.Elements);
                break;
            case RegistryTypes.Nuget:
                Add(runtime.Elements);
                args.Add(spec);
                if (packageArgs.Elements.Count > 0)
                {
                    args.Add("--");
                    Add(packageArgs.Elements);
                }

                break;
        }

        return new LaunchResult(
            new LaunchPlan(command, [.. args], environment, secretEnvironment, secretIndexes.ToImmutable(), transport),
            []);
    }

    /// <summary>An argument vector element and whether it holds a secret.</summary>
    private readonly record struct Element(string Text, bool Secret);

    /// <summary>The resolved elements of a list of arguments, and the first value of each argument key (for <c>{--port}</c> in URLs).</summary>
    private sealed record Arguments(List<Element> Elements, Dictionary<string, string> FirstValues);

    private static Arguments ResolveArguments(IReadOnlyList<Argument>? arguments, string path, InputResolver resolver, bool beforePackage)
    {
        var elements = new List<Element>();
        var firstValues = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var argument in arguments ?? [])
        {
            var argumentPath = JsonPath.Index(path, i++);
            var key = argument.IsNamed ? argument.Name : argument.ValueHint;
            var values = ResolveValues(argument, key, argumentPath, resolver, beforePackage);
            if (values is null || values.Count == 0)
            {
                continue;
            }

            if (key is not null)
            {
                firstValues.TryAdd(key, values[0].Value);
            }

            foreach (var value in values)
            {
                if (!argument.IsNamed)
                {
                    elements.Add(new Element(value.Value, value.Secret));
                }
                else if (argument.Format == InputFormats.Boolean)
                {
                    if (value.Value == "true" && argument.Name is { } flag)
                    {
                        elements.Add(new Element(flag, false));
                    }
                }
                else
                {
                    if (argument.Name is { } name)
                    {
                        elements.Add(new Element(name, false));
                    }

                    elements.Add(new Element(value.Value, value.Secret));
                }
            }
        }

        return new Arguments(elements, firstValues);
    }

    private static List<InputResolver.Resolved>? ResolveValues(Argument argument, string? key, string path, InputResolver resolver, bool beforePackage)
    {
        if (argument.Value is not null)
        {
            var variables = resolver.ResolveVariables(argument.Variables, path);
            return resolver.Expand(argument.Value, argument.Secret, argument.Repeated, variables, path);
        }

        var user = InputResolver.Given(resolver.Inputs.ArgumentValues(key), argument.Required);
        if (!user.IsEmpty)
        {
            if (user.Length > 1 && !argument.Repeated)
            {
                resolver.Problems.Add(new InputProblem(LaunchRules.TooManyValues, path, InputKind.Argument, key,
                    $"{user.Length} values were given for \"{key}\", which is not repeatable", "give one value"));
                return null;
            }

            var ok = true;
            foreach (var value in user)
            {
                ok &= resolver.Check(argument, value, path, InputKind.Argument, key);
                if (beforePackage && value.StartsWith('-'))
                {
                    // Runtime arguments go to the runner (npx, uvx, docker): a user's "--privileged" or "-v /:/host" there is an option.
                    resolver.Problems.Add(new InputProblem(LaunchRules.ValueOption, path, InputKind.Argument, key,
                        $"the value given for \"{key}\" begins with '-'; as a runtime argument it would become an option of the runner",
                        "give a value that does not begin with '-'; runner options come from the registry entry only"));
                    ok = false;
                }
            }

            return ok ? [.. user.Select(v => new InputResolver.Resolved(v, argument.Secret))] : null;
        }

        if (argument.Default is not null)
        {
            return resolver.Check(argument, argument.Default, path, InputKind.Argument, key)
                ? [new InputResolver.Resolved(argument.Default, argument.Secret)]
                : null;
        }

        if (argument.Required)
        {
            resolver.Missing(path, InputKind.Argument, key, argument.Description,
                key is null ? "a required argument has no value" : $"the argument \"{key}\" is required and has no value");
        }

        return [];
    }

    private static bool IsArgumentKey(Package package, string key) =>
        (package.RuntimeArguments ?? []).Concat(package.PackageArguments ?? [])
            .Any(a => (a.IsNamed ? a.Name : a.ValueHint) == key);

    /// <summary>
    /// The environment names in a stable order: the entry's, in declaration order, then the user's others. A name the
    /// publisher's command forwards (<see cref="OciCommand"/>) is passed even without a value, as that command would.
    /// </summary>
    private static IEnumerable<string> OrderedNames(Package package, LaunchInputs inputs, ImmutableDictionary<string, string> environment, ImmutableArray<string> forwarded)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var variable in package.EnvironmentVariables ?? [])
        {
            if ((environment.ContainsKey(variable.Name) || forwarded.Contains(variable.Name)) && seen.Add(variable.Name))
            {
                yield return variable.Name;
            }
        }

        foreach (var (name, _) in inputs.Environment)
        {
            if (environment.ContainsKey(name) && seen.Add(name))
            {
                yield return name;
            }
        }
    }

    /// <summary>
    /// The package's transport. For streamable-http and sse, <c>{name}</c> in the URL is the value of the argument with
    /// that key (<c>{--port}</c>, a <c>valueHint</c>) or of the environment variable of that name; the same safety rules
    /// as remote URLs apply.
    /// </summary>
    private static LaunchTransport? ResolveTransport(Package package, string path, InputResolver resolver,
        Arguments runtime, Arguments packageArgs, ImmutableDictionary<string, string> environment)
    {
        var transport = package.Transport;
        if (transport.Type == TransportTypes.Stdio || transport.Url is null)
        {
            return LaunchTransport.Stdio with { Type = transport.Type };
        }

        var transportPath = JsonPath.Field(path, "transport");
        var url = RemotePlanner.SubstituteUrl(transport.Url, JsonPath.Field(transportPath, "url"), resolver, name =>
            packageArgs.FirstValues.TryGetValue(name, out var a) ? a
            : runtime.FirstValues.TryGetValue(name, out var r) ? r
            : environment.TryGetValue(name, out var e) ? e
            : null,
            name => IsArgumentKey(package, name) || package.EnvironmentVariables?.Any(v => v.Name == name) == true,
            InputKind.Argument);
        var (headers, secrets) = resolver.ResolveKeyValues(
            transport.Headers, resolver.Inputs.Headers, transportPath, "headers", InputKind.Header, StringComparer.OrdinalIgnoreCase);
        RemotePlanner.CheckHeaders(headers, transportPath, resolver);
        return url is null ? null : new LaunchTransport(transport.Type, url, headers, secrets);
    }
}
