using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Steward.Cli.Registry;

namespace Steward.Cli;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(ValidationReport))]
[JsonSerializable(typeof(Steward.Agent.Policy.ToolExplanation))]
[JsonSerializable(typeof(Gateway.ExportHostCommand.Report), TypeInfoPropertyName = "ExportHostReport")]
[JsonSerializable(typeof(AgentCommands.McpRepinCommand.RepinReport))]
[JsonSerializable(typeof(Steward.Agent.LogEntry))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
    /// <summary>Output for people and scripts alike: quotes and non-ASCII text written as themselves, not \u escapes.</summary>
    public static CliJsonContext Output { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>As <see cref="Output"/>, one object per line: for output that is a stream of entries (<c>steward logs --json</c>).</summary>
    public static CliJsonContext Lines { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
