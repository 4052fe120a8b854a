using System.Collections.Immutable;
using Steward.Core.Config;
using Steward.Core.Registry;

namespace Steward.Core.Launch;

/// <summary>
/// Reads an OCI package the way the official registry's publishers write it. Many spell out the whole docker command
/// in <c>runtimeArguments</c> — <c>run</c>, <c>-i</c>, <c>--rm</c>, <c>-e NAME</c> or <c>-e NAME={token}</c>, and the
/// image itself (GitHub, Buildkite, Prometheus, Terraform in the registry snapshot) — although the runner adds
/// <c>run -i --rm</c> and the image. Taken literally, that runs <c>docker run -i --rm run -i --rm … image image:tag</c>
/// with the secret in the argument vector. <see cref="Normalize"/> turns such a package into the plain form, so that
/// the planner and admission (<see cref="Admission"/>'s argument patterns) read one shape:
/// <list type="bullet">
/// <item><description>Full form (the first runtime argument is the positional <c>run</c>): <c>run</c>, <c>-i</c>,
/// <c>--interactive</c> and <c>--rm</c> are dropped (Steward always adds <c>run -i --rm</c>); a positional naming the
/// package's image (same repository, any tag, <c>docker.io/</c> and <c>library/</c> optional) is dropped (the
/// identifier is the image); a named argument without value, default or input is the flag alone, its value the
/// positional that follows (<c>-v</c>, <c>/tmp/a:/tmp/b</c>).</description></item>
/// <item><description>Environment, in every form: <c>-e NAME</c> (named without value, then a positional
/// <c>NAME</c>; or a named value <c>NAME</c>) forwards <c>NAME</c> by name; <c>-e NAME={variable}</c> becomes the
/// environment variable <c>NAME</c> the user provides (required, secret and described as the variable is), and
/// <c>-e NAME=text{variable}</c> a variable with that value template. In the full form every such <c>-e</c> is
/// moved; in the plain form only a secret one (a non-secret repeated <c>-e DB_TYPE={db_type}</c> stays an argument).
/// Moved variables are passed as <c>-e NAME</c>, their values in docker's environment, never in the argument vector.</description></item>
/// </list>
/// Other packages are returned unchanged.
/// </summary>
public static class OciCommand
{
    /// <summary>The package in plain form, and the names its command forwards by name (<c>-e NAME</c>) even when no value is set.</summary>
    public sealed record Normalized(Package Package, ImmutableArray<string> Forwarded);

    public static Normalized Normalize(Package package)
    {
        ArgumentNullException.ThrowIfNull(package);
        if (package.RegistryType != RegistryTypes.Oci || package.RuntimeArguments is not { Count: > 0 } runtime)
        {
            return new Normalized(package, []);
        }

        var full = runtime[0] is { IsNamed: false, Value: "run" };
        var kept = new List<Argument>(runtime.Count);
        var environment = new List<KeyValueInput>(package.EnvironmentVariables ?? []);
        var forwarded = ImmutableArray.CreateBuilder<string>();
        var changed = full;
        for (var i = full ? 1 : 0; i < runtime.Count; i++)
        {
            var argument = runtime[i];
            if (full && IsImplied(argument))
            {
                continue;
            }

            if (full && !argument.IsNamed && argument.Value is { } value && argument.Variables is null or { Count: 0 } && SameImage(value, package.Identifier))
            {
                continue;
            }

            if (argument.IsNamed && argument.Name is "-e" or "--env")
            {
                // -e, then the name as the next positional (older GitHub, Terraform, Buildkite entries).
                if (argument.Value is null && argument.Default is null && i + 1 < runtime.Count &&
                    runtime[i + 1] is { IsNamed: false, Value: { } next } nextArgument && nextArgument.Variables is null or { Count: 0 } && EnvReferences.IsName(next))
                {
                    Forward(next, argument.Description);
                    i++;
                    changed = true;
                    continue;
                }

                if (argument.Value is { } setting && !argument.Repeated && Move(setting, argument, full))
                {
                    changed = true;
                    continue;
                }
            }

            if (full && argument.IsNamed && argument.Name is { } flag && argument.Value is null && argument.Default is null &&
                argument.ValueHint is null && !argument.Required && argument.Format != InputFormats.Boolean)
            {
                // The publisher wrote the flag and its value as two arguments: the flag alone is a fixed element.
                kept.Add(new Argument { Type = ArgumentTypes.Positional, Value = flag, Description = argument.Description });
                changed = true;
                continue;
            }

            kept.Add(argument);
        }

        if (!changed)
        {
            return new Normalized(package, []);
        }

        return new Normalized(package with { RuntimeArguments = kept, EnvironmentVariables = environment.Count == 0 ? null : environment }, forwarded.ToImmutable());

        void Forward(string name, string? description)
        {
            if (!environment.Any(e => e.Name == name))
            {
                environment.Add(new KeyValueInput { Name = name, Description = description });
            }

            if (!forwarded.Contains(name))
            {
                forwarded.Add(name);
            }
        }

        bool Move(string setting, Argument argument, bool fullForm)
        {
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                if (!EnvReferences.IsName(setting) || !fullForm)
                {
                    return false;
                }

                Forward(setting, argument.Description);
                return true;
            }

            var name = setting[..equals];
            var template = setting[(equals + 1)..];
            if (!EnvReferences.IsName(name))
            {
                return false;
            }

            var names = ValueTemplate.Names(template).Distinct(StringComparer.Ordinal).ToList();
            var secret = argument.Secret || names.Any(n => argument.Variables?.GetValueOrDefault(n)?.Secret == true);
            if (!fullForm && !secret)
            {
                return false;
            }

            environment.RemoveAll(e => e.Name == name);
            if (names is [var only] && template == "{" + only + "}" && argument.Variables?.GetValueOrDefault(only) is { Value: null } variable)
            {
                // The whole value is one input: the environment variable itself is what the user provides.
                environment.Add(new KeyValueInput
                {
                    Name = name,
                    Description = variable.Description ?? argument.Description,
                    IsRequired = variable.IsRequired ?? argument.IsRequired,
                    IsSecret = secret ? true : null,
                    Format = variable.Format,
                    Default = variable.Default,
                    Placeholder = variable.Placeholder,
                    Choices = variable.Choices,
                });
            }
            else
            {
                environment.Add(new KeyValueInput
                {
                    Name = name,
                    Description = argument.Description,
                    IsRequired = argument.IsRequired,
                    IsSecret = secret ? true : null,
                    Value = template,
                    Variables = argument.Variables,
                });
            }

            if (!forwarded.Contains(name))
            {
                forwarded.Add(name);
            }

            return true;
        }
    }

    /// <summary><c>-i</c>, <c>--interactive</c> and <c>--rm</c>, as a positional value or a named flag (bare or boolean).</summary>
    private static bool IsImplied(Argument argument)
    {
        static bool Implied(string? text) => text is "-i" or "--interactive" or "--rm" or "-it" or "-ti";
        if (!argument.IsNamed)
        {
            return Implied(argument.Value) && argument.Variables is null or { Count: 0 };
        }

        return Implied(argument.Name) && (argument.Value is null or "true" || argument.Format == InputFormats.Boolean) && argument.Default is null or "true";
    }

    /// <summary>True when <paramref name="reference"/> names the repository of <paramref name="identifier"/> (tags and digests aside).</summary>
    public static bool SameImage(string reference, string identifier)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(identifier);
        if (reference.StartsWith('-'))
        {
            return false;
        }

        return Repository(reference) == Repository(identifier);
    }

    private static string Repository(string image)
    {
        var (name, _) = Runners.SplitSpec(RegistryTypes.Oci, image);
        foreach (var prefix in (ReadOnlySpan<string>)["docker.io/", "index.docker.io/", "registry-1.docker.io/"])
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                name = name[prefix.Length..];
                break;
            }
        }

        return name.StartsWith("library/", StringComparison.Ordinal) ? name["library/".Length..] : name;
    }
}
