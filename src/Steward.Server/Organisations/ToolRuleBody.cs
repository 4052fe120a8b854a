namespace Steward.Server.Organisations;

/// <summary>
/// One tool rule as the console's form gives it, unchecked: the console writes its rows into
/// <see cref="ProfileBody.ToolRules"/>, so that they are read and checked by the one reader the API uses, problems
/// included (<c>$.toolRules[2].pattern</c>).
/// </summary>
internal sealed record ToolRuleBody(string? Pattern, string? Effect, string? Reason);
