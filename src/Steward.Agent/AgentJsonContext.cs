using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Steward.Agent.Models;
using Steward.Agent.Servers;
using Steward.Agent.Sources;
using Steward.Agent.Sync;

namespace Steward.Agent;

/// <summary>Source-generated JSON for the agent's own files (<c>source.json</c>, <c>secrets.json</c>, <c>models.json</c>) and its <c>--json</c> reports.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(SourceFileDocument))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(LoginResult))]
[JsonSerializable(typeof(SyncReport))]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(AddResult))]
[JsonSerializable(typeof(ChangeResult))]
[JsonSerializable(typeof(ImportReport))]
[JsonSerializable(typeof(IReadOnlyList<ApprovedServer>))]
[JsonSerializable(typeof(ModelChoice))]
public sealed partial class AgentJsonContext : JsonSerializerContext
{
    /// <summary>For output read by people and scripts: quotes and non-ASCII text as themselves, not \u escapes.</summary>
    public static AgentJsonContext Output { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
