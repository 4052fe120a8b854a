using System.Text.Json.Serialization;
using Steward.Server.Policy;
using Steward.Server.Registry;

namespace Steward.Server.Hosting;

/// <summary>Source-generated JSON for the server's own request and response bodies: camelCase, nulls left out.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProblemBody))]
[JsonSerializable(typeof(StatusUpdateRequest))]
[JsonSerializable(typeof(NewPublishToken))]
[JsonSerializable(typeof(DeprecationRequest))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, bool>))]
[JsonSerializable(typeof(Dictionary<string, string[]>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(List<ToolRuleBody>))]
[JsonSerializable(typeof(NewToken))]
[JsonSerializable(typeof(TokenJson))]
[JsonSerializable(typeof(TokenList))]
[JsonSerializable(typeof(TokenAuditView))]
[JsonSerializable(typeof(EmergencyStop))]
[JsonSerializable(typeof(EmergencyStopRequest))]
[JsonSerializable(typeof(EmergencyStopView))]
[JsonSerializable(typeof(NewOrganisation))]
[JsonSerializable(typeof(RetentionRequest))]
[JsonSerializable(typeof(KeyRotationRequest))]
[JsonSerializable(typeof(NewOidcConfiguration))]
[JsonSerializable(typeof(OidcExchangeRequest))]
[JsonSerializable(typeof(ProfileBody))]
[JsonSerializable(typeof(NewAccount))]
[JsonSerializable(typeof(AccountRename))]
[JsonSerializable(typeof(Steward.Server.Models.ModelPolicyBody))]
[JsonSerializable(typeof(Steward.Server.Models.ModelGroupsBody))]
[JsonSerializable(typeof(Steward.Server.Models.UpstreamsRequest))]
[JsonSerializable(typeof(Steward.Server.Models.TokenGroupsRequest))]
internal sealed partial class ServerJsonContext : JsonSerializerContext;

public sealed record HealthReport(string Status, string? Detail = null);
