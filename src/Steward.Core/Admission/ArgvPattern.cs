using System.Collections.Immutable;
using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Core.Admission;

/// <summary>
/// Every argument vector a registry package can produce through <see cref="LaunchPlanner"/>, for some user input.
/// A configured server matches when its <c>command</c> and <c>args</c> are one of them. Precisely:
/// <list type="bullet">
/// <item><description>The program must equal the runner exactly (<c>npx</c>, <c>uvx</c>, <c>docker</c>/<c>podman</c>,
/// <c>dnx</c>, or the package's <c>runtimeHint</c>); a path such as <c>/tmp/npx</c> is another program.</description></item>
/// <item><description>The runner's fixed parts must be there in order (<c>run -i --rm</c> for docker). Tolerated, because
/// they change prompting and not what runs: npx's <c>-y</c> may be <c>--yes</c> or absent; dnx may have <c>--yes</c>
/// after the package (as VS Code writes it); docker may forward environment variables by name (<c>-e NAME</c>, no
/// <c>=</c>) before the image.</description></item>
/// <item><description>The package element must name the same package at the same version (<c>@x/y@1.2.3</c>,
/// <c>y==1.2.3</c>, <c>image:tag</c>; NuGet ids and versions ignore case, PyPI names are PEP 503 normalised).</description></item>
/// <item><description>Each argument with a fixed <c>value</c> must appear as written. A <c>{variable}</c> in it is a hole
/// that any text can fill (<c>type=bind,src=*,dst=*</c>); the rest of the element must match exactly.</description></item>
/// <item><description>An argument that takes user input (a <c>valueHint</c> or a named argument without <c>value</c>)
/// accepts any single element in its value position, or one of its <c>choices</c> when it has them; a named argument keeps
/// its flag (<c>--port</c>, then any value). It may be absent only when the planner could leave it out (optional and without
/// default); it may repeat only when <c>isRepeated</c>. A boolean named argument is its bare flag, present or not.</description></item>
/// <item><description>Nothing else: an extra, missing or reordered element does not match.</description></item>
/// </list>
/// </summary>
internal sealed class ArgvPattern
{
    public required string Command { get; init; }
    public required string RegistryType { get; init; }
    /// <summary>The package name, normalised (<see cref="Runners.NormalizeName"/>): the index key.</summary>
    public required string PackageName { get; init; }
    public required string? PackageVersion { get; init; }
    public required ImmutableArray<Group> Groups { get; init; }

    public sealed record Group(ImmutableArray<Matcher> Sequence, int Min, int Max);

    public enum MatcherKind
    {
        Exact,
        OneOf,
        Glob,
        Any,
        Package,
    }

    public sealed class Matcher
    {
        public MatcherKind Kind { get; private init; }
        private string? text;
        private ImmutableArray<string> texts;

        public static Matcher Exact(string text) => new() { Kind = MatcherKind.Exact, text = text };
        public static Matcher OneOf(IEnumerable<string> texts) => new() { Kind = MatcherKind.OneOf, texts = [.. texts] };
        /// <summary>Literal parts with a hole between each two: <c>["a=", ",b=", ""]</c> is <c>a=*,b=*</c>.</summary>
        public static Matcher Glob(IEnumerable<string> literals) => new() { Kind = MatcherKind.Glob, texts = [.. literals] };
        public static Matcher Any { get; } = new() { Kind = MatcherKind.Any };
        public static Matcher Package { get; } = new() { Kind = MatcherKind.Package };

        public string Describe() => text ?? (texts.IsDefault ? "" : string.Join('\u0004', texts));

        /// <summary>Whether the element at <paramref name="position"/> matches; the package element is the one at <paramref name="packageIndex"/>.</summary>
        public bool Matches(string element, int position, int packageIndex) => Kind switch
        {
            MatcherKind.Exact => element == text,
            MatcherKind.OneOf => texts.Contains(element, StringComparer.Ordinal),
            MatcherKind.Glob => GlobMatches(texts, element, static (_, _) => true),
            MatcherKind.Any => true,
            MatcherKind.Package => position == packageIndex,
            _ => false,
        };
    }

    /// <summary>
    /// Matches <paramref name="value"/> against literals with holes between them; each hole's text must satisfy
    /// <paramref name="hole"/> (given the hole's index and its text), a property that holds for every part of a text that satisfies it (so the leftmost
    /// occurrence of each literal is always the best choice).
    /// </summary>
    public static bool GlobMatches(ImmutableArray<string> literals, string value, Func<int, string, bool> hole)
    {
        var first = literals[0];
        var last = literals[^1];
        if (literals.Length == 1)
        {
            return value == first;
        }

        if (value.Length < first.Length + last.Length || !value.StartsWith(first, StringComparison.Ordinal) || !value.EndsWith(last, StringComparison.Ordinal))
        {
            return false;
        }

        var position = first.Length;
        var end = value.Length - last.Length;
        for (var i = 1; i < literals.Length - 1; i++)
        {
            var found = value.IndexOf(literals[i], position, end - position, StringComparison.Ordinal);
            if (found < 0 || !hole(i - 1, value[position..found]))
            {
                return false;
            }

            position = found + literals[i].Length;
        }

        return hole(literals.Length - 2, value[position..end]);
    }

    /// <summary>
    /// True when <paramref name="args"/> (the configured arguments after the program) is one of the pattern's vectors
    /// with the package named at <paramref name="packageIndex"/>. The caller has already found that element to name
    /// this pattern's package; its version is compared by the caller, so that the versions of a package that share
    /// one shape are matched once.
    /// </summary>
    public bool Matches(IReadOnlyList<string> args, int packageIndex) => Match(args, 0, 0, packageIndex);

    /// <summary>
    /// A key equal for two patterns exactly when they accept the same vectors apart from the package version: the
    /// versions of one server usually share it.
    /// </summary>
    public string Shape()
    {
        var builder = new System.Text.StringBuilder();
        builder.Append(Command).Append('\u0001').Append(RegistryType).Append('\u0001').Append(PackageName);
        foreach (var group in Groups)
        {
            builder.Append('\u0002').Append(group.Min).Append(',').Append(group.Max);
            foreach (var matcher in group.Sequence)
            {
                builder.Append('\u0003').Append((int)matcher.Kind).Append(':').Append(matcher.Describe());
            }
        }

        return builder.ToString();
    }

    private bool Match(IReadOnlyList<string> args, int group, int position, int packageIndex)
    {
        if (group == Groups.Length)
        {
            return position == args.Count;
        }

        var g = Groups[group];
        var count = 0;
        while (true)
        {
            if (count >= g.Min && Match(args, group + 1, position, packageIndex))
            {
                return true;
            }

            if (count == g.Max || position + g.Sequence.Length > args.Count)
            {
                return false;
            }

            for (var i = 0; i < g.Sequence.Length; i++)
            {
                if (!g.Sequence[i].Matches(args[position + i], position + i, packageIndex))
                {
                    return false;
                }
            }

            position += g.Sequence.Length;
            count++;
        }
    }

    /// <summary>The pattern of a package, or null when Steward has no runner for its type.</summary>
    public static ArgvPattern? For(Package package)
    {
        package = OciCommand.Normalize(package).Package;
        var command = Runners.Command(package);
        if (command is null)
        {
            return null;
        }

        var groups = ImmutableArray.CreateBuilder<Group>();
        var runtime = package.RuntimeArguments ?? [];
        var packageArgs = package.PackageArguments ?? [];
        var packageGroup = new Group([Matcher.Package], 1, 1);
        switch (package.RegistryType)
        {
            case RegistryTypes.Npm:
                groups.Add(new Group([Matcher.OneOf(["-y", "--yes"])], 0, 1));
                AddArguments(groups, runtime);
                groups.Add(packageGroup);
                AddArguments(groups, packageArgs);
                break;
            case RegistryTypes.Pypi:
                AddArguments(groups, runtime);
                groups.Add(packageGroup);
                AddArguments(groups, packageArgs);
                break;
            case RegistryTypes.Oci:
                groups.Add(new Group([Matcher.Exact("run"), Matcher.Exact("-i"), Matcher.Exact("--rm")], 1, 1));
                AddArguments(groups, runtime);
                groups.Add(packageGroup);
                AddArguments(groups, packageArgs);
                break;
            case RegistryTypes.Nuget:
                AddArguments(groups, runtime);
                groups.Add(packageGroup);
                groups.Add(new Group([Matcher.Exact("--yes")], 0, 1));
                var before = groups.Count;
                AddArguments(groups, packageArgs);
                if (groups.Count > before)
                {
                    var required = groups.Skip(before).Any(g => g.Min > 0);
                    groups.Insert(before, new Group([Matcher.Exact("--")], required ? 1 : 0, 1));
                }

                break;
        }

        var (name, version) = Runners.SplitSpec(package.RegistryType, Runners.PackageSpec(package));
        return new ArgvPattern
        {
            Command = command,
            RegistryType = package.RegistryType,
            PackageName = Runners.NormalizeName(package.RegistryType, name),
            PackageVersion = version,
            Groups = groups.ToImmutable(),
        };
    }

    private static void AddArguments(ImmutableArray<Group>.Builder groups, IReadOnlyList<Argument> arguments)
    {
        foreach (var argument in arguments)
        {
            if (GroupFor(argument) is { } group)
            {
                groups.Add(group);
            }
        }
    }

    private const int Unbounded = int.MaxValue;

    private static Group? GroupFor(Argument argument)
    {
        if (argument.IsNamed && argument.Name is null)
        {
            return null; // the planner emits nothing usable for it either
        }

        if (argument.IsNamed && argument.Format == InputFormats.Boolean)
        {
            return argument.Value switch
            {
                "true" => new Group([Matcher.Exact(argument.Name!)], 1, 1),
                "false" => null,
                _ => new Group([Matcher.Exact(argument.Name!)], 0, 1),
            };
        }

        Matcher value;
        int min;
        int max;
        if (argument.Value is not null)
        {
            var (matcher, hasHoles) = ValueMatcher(argument.Value, argument.Variables);
            value = matcher;
            min = 1;
            max = hasHoles && argument.Repeated ? Unbounded : 1;
        }
        else
        {
            value = argument.Choices is { Count: > 0 } choices ? Matcher.OneOf(choices) : Matcher.Any;
            min = argument.Default is not null || argument.Required ? 1 : 0;
            max = argument.Repeated ? Unbounded : 1;
        }

        return argument.IsNamed
            ? new Group([Matcher.Exact(argument.Name!), value], min, max)
            : new Group([value], min, max);
    }

    /// <summary>A fixed value: exact when it has no user-fillable variable, else a glob with a hole for each.</summary>
    private static (Matcher Matcher, bool HasHoles) ValueMatcher(string template, IReadOnlyDictionary<string, Input>? variables)
    {
        var literals = new List<string>();
        var current = new System.Text.StringBuilder();
        foreach (var part in ValueTemplate.Parse(template))
        {
            if (!part.IsPlaceholder)
            {
                current.Append(part.Text);
            }
            else if (variables is null || !variables.TryGetValue(part.Text, out var variable))
            {
                current.Append('{').Append(part.Text).Append('}');
            }
            else if (variable.Value is not null)
            {
                current.Append(variable.Value);
            }
            else
            {
                literals.Add(current.ToString());
                current.Clear();
            }
        }

        literals.Add(current.ToString());
        return literals.Count == 1 ? (Matcher.Exact(literals[0]), false) : (Matcher.Glob(literals), true);
    }
}
