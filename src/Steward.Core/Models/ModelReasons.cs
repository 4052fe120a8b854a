namespace Steward.Core.Models;

/// <summary>Stable reason codes for an unavailable model. They name the rule, never the models that are allowed.</summary>
public static class ModelReasons
{
    public const string NotInCatalog = "not_in_catalog";
    public const string Retired = "retired";
    public const string DisabledByPolicy = "disabled_by_policy";
    public const string AwaitingApproval = "awaiting_approval";
    public const string PreviewNotAllowed = "preview_not_allowed";
    public const string NotInRegion = "not_in_region";
    public const string DeniedForGroup = "denied_for_group";
    public const string NoAvailableTarget = "no_available_target";
}
