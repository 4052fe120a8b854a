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
[JsonSerializable(typeof(Models.ModelChoice))]
[JsonSerializable(typeof(Steward.Agent.Policy.ToolExplanation))]
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
}
