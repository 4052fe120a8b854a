using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Agent.Servers;

/// <summary>One input a registry server declares: which <see cref="LaunchInputs"/> key it goes to, and what the registry says about it.</summary>
public sealed record DeclaredInput(InputKind Kind, string Key, Input Input)
{
    public bool Secret => Input.Secret;
    public bool Required => Input.Required;
    public string? Description => Input.Description;

    public string KindName => Kind switch
    {
        InputKind.Argument => "argument",
        InputKind.Variable => "variable",
        InputKind.Environment => "environment variable",
        InputKind.Header => "header",
        _ => "input",
    };
}

/// <summary>What runs for a registry server when added: its first package Steward can run, else its first remote (as admission picks).</summary>
public sealed record AddTarget(ServerDetail Server, Package? Package, RemoteTransport? Remote, IReadOnlyList<DeclaredInput> Inputs)
{
    public bool IsRemote => Remote is not null;

    /// <summary>The declared input for a key; header names compare case-insensitively, every other key exactly.</summary>
    public DeclaredInput? Find(string key) =>
        Inputs.FirstOrDefault(i => i.Kind != InputKind.Header && i.Key == key) ??
        Inputs.FirstOrDefault(i => i.Kind == InputKind.Header && string.Equals(i.Key, key, StringComparison.OrdinalIgnoreCase));

    public static AddTarget? For(ServerDetail server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var package = server.Packages?.FirstOrDefault(p => Runners.Command(p) is not null);
        if (package is not null)
        {
            return new AddTarget(server, package, null, InputsOf(OciCommand.Normalize(package).Package));
        }

        var remote = server.Remotes?.FirstOrDefault(r => RemotePlanner.IsRemoteType(r.Type));
        return remote is null ? null : new AddTarget(server, null, remote, InputsOf(remote));
    }

    private static List<DeclaredInput> InputsOf(Package package)
    {
        var inputs = new List<DeclaredInput>();
        foreach (var argument in (package.RuntimeArguments ?? []).Concat(package.PackageArguments ?? []))
        {
            if (argument.Value is null && (argument.IsNamed ? argument.Name : argument.ValueHint) is { } key)
            {
                Add(inputs, new DeclaredInput(InputKind.Argument, key, argument));
            }

            AddVariables(inputs, argument.Variables);
        }

        AddKeyValues(inputs, package.EnvironmentVariables, InputKind.Environment);
        AddKeyValues(inputs, package.Transport.Headers, InputKind.Header);
        return inputs;
    }

    private static List<DeclaredInput> InputsOf(RemoteTransport remote)
    {
        var inputs = new List<DeclaredInput>();
        AddVariables(inputs, remote.Variables);
        AddKeyValues(inputs, remote.Headers, InputKind.Header);
        return inputs;
    }

    private static void AddKeyValues(List<DeclaredInput> inputs, IReadOnlyList<KeyValueInput>? declared, InputKind kind)
    {
        foreach (var item in declared ?? [])
        {
            if (item.Value is null)
            {
                Add(inputs, new DeclaredInput(kind, item.Name, item));
            }

            AddVariables(inputs, item.Variables);
        }
    }

    private static void AddVariables(List<DeclaredInput> inputs, IReadOnlyDictionary<string, Input>? variables)
    {
        foreach (var (name, input) in variables ?? new Dictionary<string, Input>())
        {
            if (input.Value is null)
            {
                Add(inputs, new DeclaredInput(InputKind.Variable, name, input));
            }
        }
    }

    private static void Add(List<DeclaredInput> inputs, DeclaredInput input)
    {
        if (!inputs.Exists(i => i.Kind == input.Kind && i.Key == input.Key))
        {
            inputs.Add(input);
        }
    }
}
