using System.Collections.Immutable;

namespace Steward.Core.Launch;

/// <summary>
/// What the user supplied for a package or a remote, keyed so that every input of a server.json entry has exactly one
/// place to go:
/// <list type="bullet">
/// <item><description><see cref="Arguments"/>: one entry per argument that takes user input. A positional argument is
/// keyed by its <c>valueHint</c> (<c>target_dir</c>); a named argument by its <c>name</c> exactly as declared, dashes
/// included (<c>--port</c>, <c>-e</c>). The key is shared by runtime and package arguments, so two arguments with the
/// same key receive the same input. Several values repeat an argument that is <c>isRepeated</c>.</description></item>
/// <item><description><see cref="Variables"/>: the <c>{name}</c> placeholders declared in an argument's, an environment
/// variable's, a header's or a remote URL's <c>variables</c> map, keyed by the name between the braces. The key is shared
/// by every value that declares a variable of that name. Several values repeat the argument that uses the variable
/// (the i-th repetition takes the i-th value; a single value is used for every repetition).</description></item>
/// <item><description><see cref="Environment"/>: the user's environment variables, keyed by variable name (ordinal).
/// A key that the entry declares supplies (or overrides) that variable; any other key is added. The user wins per
/// key, as in Kiro. Values may hold <c>${VAR}</c> references, kept as written: expansion happens at launch.</description></item>
/// <item><description><see cref="Headers"/>: the user's HTTP headers, keyed by header name (case-insensitive), with the
/// same rules as the environment: the user wins per name.</description></item>
/// </list>
/// </summary>
public sealed record LaunchInputs
{
    public static LaunchInputs Empty { get; } = new();

    public ImmutableDictionary<string, ImmutableArray<string>> Arguments { get; init; } =
        ImmutableDictionary.Create<string, ImmutableArray<string>>(StringComparer.Ordinal);

    public ImmutableDictionary<string, ImmutableArray<string>> Variables { get; init; } =
        ImmutableDictionary.Create<string, ImmutableArray<string>>(StringComparer.Ordinal);

    /// <summary>The user's environment variables, in the order they were given (the order decides nothing but display).</summary>
    public ImmutableArray<KeyValuePair<string, string>> Environment { get; init; } = [];

    /// <summary>The user's HTTP headers, in the order they were given; names compare case-insensitively.</summary>
    public ImmutableArray<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>Sets the values for an argument key (<c>valueHint</c> or named argument <c>name</c>).</summary>
    public LaunchInputs WithArgument(string key, params string[] values) =>
        this with { Arguments = Arguments.SetItem(key, [.. values]) };

    /// <summary>Sets the values for a <c>{variable}</c>.</summary>
    public LaunchInputs WithVariable(string name, params string[] values) =>
        this with { Variables = Variables.SetItem(name, [.. values]) };

    /// <summary>Sets one of the user's environment variables (a later value for the same name replaces the earlier).</summary>
    public LaunchInputs WithEnvironment(string name, string value) =>
        this with { Environment = Set(Environment, name, value, StringComparer.Ordinal) };

    /// <summary>Sets one of the user's headers (a later value for the same name, in any case, replaces the earlier).</summary>
    public LaunchInputs WithHeader(string name, string value) =>
        this with { Headers = Set(Headers, name, value, StringComparer.OrdinalIgnoreCase) };

    /// <summary>The user's environment from a configuration file (for example a Kiro <c>env</c> object).</summary>
    public LaunchInputs WithEnvironment(IEnumerable<KeyValuePair<string, string>> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var result = this;
        foreach (var (name, value) in environment)
        {
            result = result.WithEnvironment(name, value);
        }

        return result;
    }

    /// <summary>The user's headers from a configuration file (for example a Kiro <c>headers</c> object).</summary>
    public LaunchInputs WithHeaders(IEnumerable<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var result = this;
        foreach (var (name, value) in headers)
        {
            result = result.WithHeader(name, value);
        }

        return result;
    }

    internal ImmutableArray<string> ArgumentValues(string? key) =>
        key is not null && Arguments.TryGetValue(key, out var values) && !values.IsDefault ? values : [];

    internal ImmutableArray<string> VariableValues(string name) =>
        Variables.TryGetValue(name, out var values) && !values.IsDefault ? values : [];

    private static ImmutableArray<KeyValuePair<string, string>> Set(
        ImmutableArray<KeyValuePair<string, string>> list, string name, string value, StringComparer comparer)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        for (var i = 0; i < list.Length; i++)
        {
            if (comparer.Equals(list[i].Key, name))
            {
                return list.SetItem(i, new KeyValuePair<string, string>(name, value));
            }
        }

        return list.Add(new KeyValuePair<string, string>(name, value));
    }
}
