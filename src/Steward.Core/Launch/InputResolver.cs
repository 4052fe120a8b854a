using System.Collections.Immutable;
using System.Globalization;
using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Core.Launch;

/// <summary>Resolves server.json inputs against the user's <see cref="LaunchInputs"/>, collecting every problem.</summary>
internal sealed class InputResolver(LaunchInputs inputs)
{
    public LaunchInputs Inputs { get; } = inputs;

    public List<InputProblem> Problems { get; } = [];

    /// <summary>A value and whether it must be kept secret.</summary>
    public readonly record struct Resolved(string Value, bool Secret);

    /// <summary>
    /// The values of an input's <c>{variables}</c>: the user's (by variable name), else the variable's fixed value, else
    /// its default; a required variable with none of these is reported; an optional one becomes the empty string.
    /// </summary>
    public Dictionary<string, (ImmutableArray<string> Values, bool Secret)>? ResolveVariables(
        IReadOnlyDictionary<string, Input>? variables, string path)
    {
        if (variables is null || variables.Count == 0)
        {
            return null;
        }

        var resolved = new Dictionary<string, (ImmutableArray<string>, bool)>(StringComparer.Ordinal);
        foreach (var (name, variable) in variables)
        {
            var variablePath = JsonPath.Field(JsonPath.Field(path, "variables"), name);
            var user = Given(Inputs.VariableValues(name), variable.Required);
            ImmutableArray<string> values;
            if (variable.Value is not null)
            {
                values = [variable.Value];
            }
            else if (!user.IsEmpty)
            {
                foreach (var value in user)
                {
                    Check(variable, value, variablePath, InputKind.Variable, name);
                }

                values = user;
            }
            else if (variable.Default is not null)
            {
                Check(variable, variable.Default, variablePath, InputKind.Variable, name);
                values = [variable.Default];
            }
            else if (variable.Required)
            {
                Missing(variablePath, InputKind.Variable, name, variable.Description, $"the variable {{{name}}} is required");
                continue;
            }
            else
            {
                values = [""];
            }

            resolved[name] = (values, variable.Secret);
        }

        return resolved;
    }

    /// <summary>
    /// Expands a value template once per repetition: the number of repetitions is the largest number of values any of
    /// its variables has (at least one); each variable must have one value or that many.
    /// </summary>
    public List<Resolved>? Expand(string template, bool baseSecret, bool repeated, Dictionary<string, (ImmutableArray<string> Values, bool Secret)>? variables, string path)
    {
        if (variables is null)
        {
            return [new Resolved(template, baseSecret)];
        }

        var used = ValueTemplate.Names(template).Where(variables.ContainsKey).Distinct(StringComparer.Ordinal).ToList();
        var count = used.Count == 0 ? 1 : used.Max(n => variables[n].Values.Length);
        if (count > 1 && !repeated)
        {
            Problems.Add(new InputProblem(LaunchRules.TooManyValues, path, InputKind.Variable, used.First(n => variables[n].Values.Length > 1),
                "several values were given, but this value is not repeatable", "give one value"));
            return null;
        }

        foreach (var name in used)
        {
            var length = variables[name].Values.Length;
            if (length != 1 && length != count)
            {
                Problems.Add(new InputProblem(LaunchRules.RepetitionMismatch, path, InputKind.Variable, name,
                    $"the variable {{{name}}} has {length} values but another variable of the same argument has {count}",
                    "give every variable of a repeated argument either one value or the same number of values"));
                return null;
            }
        }

        var secret = baseSecret || used.Any(n => variables[n].Secret);
        var result = new List<Resolved>(count);
        for (var i = 0; i < count; i++)
        {
            var index = i;
            var value = ValueTemplate.Substitute(template, name =>
                variables.TryGetValue(name, out var v) ? v.Values[v.Values.Length == 1 ? 0 : index] : null);
            result.Add(new Resolved(value, secret));
        }

        return result;
    }

    /// <summary>Checks a user-supplied or default value against the input's format and choices.</summary>
    public bool Check(Input input, string value, string path, InputKind kind, string? key, bool secretValue = false)
    {
        if (input.Format == InputFormats.Number &&
            !(double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)))
        {
            Problems.Add(new InputProblem(LaunchRules.InvalidNumber, path, kind, key,
                $"\"{Shorten(value, input.Secret || secretValue)}\" is not a number", "give a number such as 8080 or 0.5 (a dot for decimals)"));
            return false;
        }

        if (input.Format == InputFormats.Boolean && value is not ("true" or "false"))
        {
            Problems.Add(new InputProblem(LaunchRules.InvalidBoolean, path, kind, key,
                $"\"{Shorten(value, input.Secret || secretValue)}\" is not a boolean", "give true or false"));
            return false;
        }

        if (input.Choices is { Count: > 0 } choices && !choices.Contains(value, StringComparer.Ordinal))
        {
            Problems.Add(new InputProblem(LaunchRules.NotAChoice, path, kind, key,
                $"\"{Shorten(value, input.Secret || secretValue)}\" is not one of the allowed values", "give one of: " + string.Join(", ", choices)));
            return false;
        }

        return true;
    }

    /// <summary>The user's values; for a required input, empty strings alone count as nothing given.</summary>
    public static ImmutableArray<string> Given(ImmutableArray<string> values, bool required) =>
        required && values.All(v => v.Length == 0) ? [] : values;

    public void Missing(string path, InputKind kind, string? key, string? description, string message)
    {
        var what = kind switch
        {
            InputKind.Argument => $"the argument input \"{key}\"",
            InputKind.Variable => $"the variable \"{key}\"",
            InputKind.Environment => $"the environment variable {key}",
            InputKind.Header => $"the header {key}",
            _ => "a value",
        };
        var hint = "provide " + what + (string.IsNullOrWhiteSpace(description) ? "" : " (" + description.Trim() + ")");
        Problems.Add(new InputProblem(LaunchRules.MissingInput, path, kind, key, message, hint));
    }

    /// <summary>
    /// Resolves key/value inputs (environment variables or headers): the user's value for the name wins, else the
    /// entry's value (variables substituted), else its default; a required one with none is reported; an optional one is
    /// left out. Then the user's other entries are added. Every user-supplied value counts as secret.
    /// </summary>
    public (ImmutableDictionary<string, string> Values, ImmutableHashSet<string> Secrets) ResolveKeyValues(
        IReadOnlyList<KeyValueInput>? declared, ImmutableArray<KeyValuePair<string, string>> user, string path, string field,
        InputKind kind, StringComparer comparer)
    {
        var values = ImmutableDictionary.CreateBuilder<string, string>(comparer);
        var secrets = ImmutableHashSet.CreateBuilder<string>(comparer);
        var userMap = new Dictionary<string, string>(comparer);
        foreach (var (name, value) in user)
        {
            userMap[name] = value;
        }

        var i = 0;
        foreach (var input in declared ?? [])
        {
            var itemPath = JsonPath.Index(JsonPath.Field(path, field), i++);
            if (userMap.TryGetValue(input.Name, out var mine) && input.Value is not null && !Same(input, mine))
            {
                // Registry parameters are read-only: a value the entry fixes is not the developer's to change.
                Problems.Add(new InputProblem(LaunchRules.FixedValue, itemPath, kind, input.Name,
                    $"{(kind == InputKind.Header ? "the header " : "")}{input.Name} is fixed by the registry entry; registry parameters are read-only",
                    kind == InputKind.Header
                        ? $"remove {input.Name} from --header (or from \"headers\" in mcp.json), or ask your administrator to declare it as an input"
                        : $"remove {input.Name} from --env (or from \"env\" in mcp.json), or ask your administrator to declare it as an input"));
                continue;
            }

            if (userMap.TryGetValue(input.Name, out mine))
            {
                if (!EnvReferencesIn(mine))
                {
                    Check(input, mine, itemPath, kind, input.Name, secretValue: true);
                }

                values[input.Name] = mine;
                secrets.Add(input.Name);
                continue;
            }

            if (input.Value is not null)
            {
                var variables = ResolveVariables(input.Variables, itemPath);
                var expanded = Expand(input.Value, input.Secret, repeated: false, variables, itemPath);
                if (expanded is [var single])
                {
                    values[input.Name] = single.Value;
                    if (single.Secret)
                    {
                        secrets.Add(input.Name);
                    }
                }

                continue;
            }

            if (input.Default is not null)
            {
                Check(input, input.Default, itemPath, kind, input.Name);
                values[input.Name] = input.Default;
                if (input.Secret)
                {
                    secrets.Add(input.Name);
                }

                continue;
            }

            if (input.Required)
            {
                Missing(itemPath, kind, input.Name, input.Description, $"{input.Name} is required and has no value");
            }
        }

        foreach (var (name, value) in user)
        {
            if (!values.ContainsKey(name))
            {
                values[name] = value;
                secrets.Add(name);
            }
        }

        return (values.ToImmutable(), secrets.ToImmutable());
    }

    /// <summary>The user's value is the entry's own fixed value (as <c>mcp add</c> writes it out): not an override.</summary>
    private bool Same(KeyValueInput input, string value)
    {
        if (input.Variables is not { Count: > 0 })
        {
            return value == input.Value;
        }

        var probe = new InputResolver(Inputs);
        var expanded = probe.Expand(input.Value!, input.Secret, repeated: false, probe.ResolveVariables(input.Variables, ""), "");
        return probe.Problems.Count == 0 && expanded is [var single] && single.Value == value;
    }

    private static bool EnvReferencesIn(string value) => value.Contains('$', StringComparison.Ordinal);

    /// <summary>Secret values are never echoed back in a problem message.</summary>
    private static string Shorten(string value, bool secret) =>
        secret ? LaunchPlan.Mask : value.Length > 80 ? value[..80] + "…" : value;
}
