namespace Steward.Agent.Sources.Oidc;

/// <summary>An answer of the issuer's token endpoint: the ID token, or the OAuth error code and its description.</summary>
public sealed record TokenAnswer(string? IdToken, string? Error, string? Description);
