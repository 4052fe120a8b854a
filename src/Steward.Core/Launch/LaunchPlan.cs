using System.Collections.Immutable;
using Steward.Core.Validation;

namespace Steward.Core.Launch;

/// <summary>
/// What to run for a local package: a program and its argument vector, never a command line. Each element of
/// <see cref="Args"/> is passed to the process as exactly one argument; nothing here is ever given to a shell.
/// </summary>
/// <param name="Command">The program (<c>npx</c>, <c>uvx</c>, <c>docker</c>, <c>dnx</c>), resolved on <c>PATH</c> by the launcher.</param>
/// <param name="Args">The arguments after the program, one element per argument.</param>
/// <param name="Environment">The environment to add to the child process: the entry's variables with the user's on top.</param>
/// <param name="SecretEnvironmentNames">Names in <see cref="Environment"/> whose values must never be shown or logged.</param>
/// <param name="SecretArgIndexes">Indexes into <see cref="Args"/> of elements that hold a secret value.</param>
/// <param name="Transport">How to talk to the server once it runs: stdio, or an HTTP URL it serves.</param>
public sealed record LaunchPlan(
    string Command,
    ImmutableArray<string> Args,
    ImmutableDictionary<string, string> Environment,
    ImmutableHashSet<string> SecretEnvironmentNames,
    ImmutableHashSet<int> SecretArgIndexes,
    LaunchTransport Transport)
{
    public const string Mask = "***";

    /// <summary>The program followed by its arguments.</summary>
    public ImmutableArray<string> Argv => [Command, .. Args];

    /// <summary>The arguments with every secret element replaced by <see cref="Mask"/>: safe to display or log.</summary>
    public ImmutableArray<string> RedactedArgs()
    {
        var builder = ImmutableArray.CreateBuilder<string>(Args.Length);
        for (var i = 0; i < Args.Length; i++)
        {
            builder.Add(SecretArgIndexes.Contains(i) ? Mask : Args[i]);
        }

        return builder.MoveToImmutable();
    }

    /// <summary>The environment with every secret value replaced by <see cref="Mask"/>: safe to display or log.</summary>
    public ImmutableDictionary<string, string> RedactedEnvironment() =>
        Environment.ToImmutableDictionary(p => p.Key, p => SecretEnvironmentNames.Contains(p.Key) ? Mask : p.Value, StringComparer.Ordinal);
}

/// <summary>How a launched package is reached: <c>stdio</c>, or <c>streamable-http</c> / <c>sse</c> at <see cref="Url"/>.</summary>
public sealed record LaunchTransport(string Type, string? Url, ImmutableDictionary<string, string> Headers, ImmutableHashSet<string> SecretHeaderNames)
{
    public static LaunchTransport Stdio { get; } = new(
        Registry.TransportTypes.Stdio,
        null,
        ImmutableDictionary.Create<string, string>(StringComparer.OrdinalIgnoreCase),
        ImmutableHashSet.Create<string>(StringComparer.OrdinalIgnoreCase));
}

/// <summary>
/// What to connect to for a remote: the URL with its variables substituted, and the headers to send (the entry's, with
/// the user's on top, names case-insensitive).
/// </summary>
public sealed record RemotePlan(string Type, string Url, ImmutableDictionary<string, string> Headers, ImmutableHashSet<string> SecretHeaderNames)
{
    /// <summary>The headers with every secret value replaced by <see cref="LaunchPlan.Mask"/>.</summary>
    public ImmutableDictionary<string, string> RedactedHeaders() =>
        Headers.ToImmutableDictionary(p => p.Key, p => SecretHeaderNames.Contains(p.Key) ? LaunchPlan.Mask : p.Value, StringComparer.OrdinalIgnoreCase);
}

/// <summary>Which dictionary of <see cref="LaunchInputs"/> an input goes into.</summary>
public enum InputKind
{
    /// <summary>Not an input: the package itself (no runner, unsupported type).</summary>
    None,
    Argument,
    Variable,
    Environment,
    Header,
}

/// <summary>
/// One reason a plan could not be made: where in the entry (<c>packageArguments[2]</c>), which input to provide
/// (<see cref="Kind"/> and <see cref="Key"/>, as <see cref="LaunchInputs"/> keys them), what is wrong and how to fix it.
/// </summary>
public sealed record InputProblem(string Rule, string Path, InputKind Kind, string? Key, string Message, string Hint)
{
    public Problem ToProblem() => Problem.Error(Path, Rule, Message, Hint);

    public override string ToString() => $"{Path}: {Message} [{Rule}] — {Hint}";
}

public static class LaunchRules
{
    public const string MissingInput = "launch.missing-input";
    public const string InvalidNumber = "launch.invalid-number";
    public const string InvalidBoolean = "launch.invalid-boolean";
    public const string NotAChoice = "launch.not-a-choice";
    public const string TooManyValues = "launch.too-many-values";
    public const string RepetitionMismatch = "launch.repetition-mismatch";
    public const string NoRunner = "launch.no-runner";
    public const string UnsafeUrlValue = "launch.unsafe-url-value";
    public const string InvalidUrl = "launch.invalid-url";

    /// <summary>A remote whose URL variables, once filled in, make it plain http or point it at this machine.</summary>
    public const string RemoteOrigin = "launch.remote-origin";
    public const string UnresolvedVariable = "launch.unresolved-variable";
    public const string UnsafeHeader = "launch.unsafe-header";

    /// <summary>A package identifier that begins with <c>-</c>: the runner would read it as one of its own options.</summary>
    public const string IdentifierOption = "launch.identifier-option";

    /// <summary>A user's environment variable or header that the registry entry fixes (registry parameters are read-only).</summary>
    public const string FixedValue = "launch.fixed-value";

    /// <summary>A user's value for a runtime argument that begins with <c>-</c>: it would become an option of the runner.</summary>
    public const string ValueOption = "launch.value-option";
}

/// <summary>A launch plan, or every reason there is none. Planning never throws on bad input.</summary>
public sealed record LaunchResult(LaunchPlan? Plan, ImmutableArray<InputProblem> Problems)
{
    public bool Succeeded => Plan is not null;
}

/// <summary>A remote plan, or every reason there is none.</summary>
public sealed record RemoteResult(RemotePlan? Plan, ImmutableArray<InputProblem> Problems)
{
    public bool Succeeded => Plan is not null;
}
