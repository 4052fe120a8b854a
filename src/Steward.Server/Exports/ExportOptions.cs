namespace Steward.Server.Exports;

/// <summary>The mode of an export and, in gateway mode, the command hosts start.</summary>
public sealed record ExportOptions(string Mode, string Command)
{
    public static ExportOptions Default { get; } = new(ExportModes.Gateway, ExportModes.DefaultCommand);

    public static ExportOptions DirectMode { get; } = new(ExportModes.Direct, ExportModes.DefaultCommand);

    public bool IsGateway => Mode == ExportModes.Gateway;

    /// <summary>The argv a host runs for <paramref name="name"/> through the gateway.</summary>
    public string[] GatewayArgv(string name) => [Command, "gateway", "--server", name];
}
