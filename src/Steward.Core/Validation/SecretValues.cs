using Steward.Core.Registry;

namespace Steward.Core.Validation;

/// <summary>
/// Secret inputs (<c>isSecret: true</c>) whose value is written in the server.json itself, where every reader of a
/// registry sees it: a <c>default</c>, or a <c>value</c> without a <c>{variable}</c> in it. The rule
/// <see cref="Rule"/> refuses them; <see cref="Strip"/> removes them (for imports of another registry).
/// </summary>
public static class SecretValues
{
    public const string Rule = "secret.value-published";

    /// <summary>True when <paramref name="input"/> is a secret that carries its value; <paramref name="field"/> names the field (<c>default</c> or <c>value</c>).</summary>
    public static bool Publishes(Input input, out string field)
    {
        ArgumentNullException.ThrowIfNull(input);
        field = "";
        if (!input.Secret)
        {
            return false;
        }

        if (input.Value is { Length: > 0 } value && !UrlTemplates.Variables(value).Any())
        {
            field = "value";
            return true;
        }

        if (input.Default is { Length: > 0 })
        {
            field = "default";
            return true;
        }

        return false;
    }

    /// <summary>The server with every published secret value and default removed (the same instance when there is none).</summary>
    public static ServerDetail Strip(ServerDetail server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var changed = false;
        var packages = server.Packages?.Select(p =>
        {
            var transport = p.Transport with { Headers = StripAll(p.Transport.Headers, ref changed) };
            return p with
            {
                Transport = transport,
                EnvironmentVariables = StripAll(p.EnvironmentVariables, ref changed),
                RuntimeArguments = StripAll(p.RuntimeArguments, ref changed),
                PackageArguments = StripAll(p.PackageArguments, ref changed),
            };
        }).ToList();
        var remotes = server.Remotes?.Select(r => r with { Headers = StripAll(r.Headers, ref changed), Variables = Variables(r.Variables, ref changed) }).ToList();
        return changed ? server with { Packages = packages, Remotes = remotes } : server;
    }

    private static List<T>? StripAll<T>(IReadOnlyList<T>? inputs, ref bool changed) where T : InputWithVariables
    {
        if (inputs is null)
        {
            return null;
        }

        var result = new List<T>(inputs.Count);
        foreach (var input in inputs)
        {
            var stripped = (InputWithVariables)One(input, ref changed);
            result.Add((T)(stripped with { Variables = Variables(stripped.Variables, ref changed) }));
        }

        return result;
    }

    private static Dictionary<string, Input>? Variables(IReadOnlyDictionary<string, Input>? variables, ref bool changed)
    {
        if (variables is null)
        {
            return null;
        }

        var result = new Dictionary<string, Input>(variables.Count, StringComparer.Ordinal);
        foreach (var (name, variable) in variables)
        {
            result[name] = One(variable, ref changed);
        }

        return result;
    }

    private static Input One(Input input, ref bool changed)
    {
        var current = input;
        while (Publishes(current, out var field))
        {
            changed = true;
            current = field == "value" ? current with { Value = null } : current with { Default = null };
        }

        return current;
    }
}
