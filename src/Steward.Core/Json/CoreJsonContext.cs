using System.Text.Json.Serialization;
using Steward.Core.Registry;

namespace Steward.Core.Json;

/// <summary>Source-generated JSON for Core's documents: camelCase, absent fields left out.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(ServerDetail))]
[JsonSerializable(typeof(IReadOnlyList<ServerDetail>))]
[JsonSerializable(typeof(OfficialMeta))]
public sealed partial class CoreJsonContext : JsonSerializerContext;
