namespace Steward.Server.Organisations;

/// <summary>Whose sandbox profile a write is for: the organisation's default, an account's default (by slug), or a registry entry's (by name, all its versions).</summary>
internal sealed record SandboxTarget
{
    private SandboxTarget(SandboxTargetKind kind, string key)
    {
        Kind = kind;
        Key = key;
    }

    public SandboxTargetKind Kind { get; }

    /// <summary>The account's slug or the entry's name; empty for the organisation's default.</summary>
    public string Key { get; }

    public static SandboxTarget OrganisationDefault { get; } = new(SandboxTargetKind.Default, "");

    public static SandboxTarget Account(string slug) => new(SandboxTargetKind.Account, slug);

    public static SandboxTarget Server(string name) => new(SandboxTargetKind.Server, name);
}

internal enum SandboxTargetKind
{
    Default,
    Account,
    Server,
}
