namespace Steward.Server.Organisations;

/// <summary>
/// What the console's tool-rule editor shows: the profile in force (null when there is none yet), the approved servers'
/// names and the (server, tool) pairs gateways have reported calling, since registry entries do not list their tools.
/// </summary>
internal sealed record ToolRulesView(StoredProfile? Profile, IReadOnlyList<string> Servers, IReadOnlyList<(string Server, string Tool)> Tools);
