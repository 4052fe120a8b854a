using System.Text.Json.Serialization;
using Steward.Agent.Sources;

namespace Steward.Agent;

/// <summary>Source-generated JSON for the agent's own files (<c>source.json</c>, <c>secrets.json</c>).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(SourceFileDocument))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
