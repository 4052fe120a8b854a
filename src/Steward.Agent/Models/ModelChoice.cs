using System.Text.Json;
using Steward.Agent.Files;

namespace Steward.Agent.Models;

/// <summary>What <c>steward models use</c> records in <c>models.json</c> in the configuration directory.</summary>
public sealed record ModelChoice(string Model, string Requested, string? Placement, string? ProviderModelId, DateTimeOffset ChosenAt)
{
    public const string FileName = "models.json";

    /// <summary>The choice of an allowed <paramref name="decision"/> for the id the developer gave.</summary>
    public static ModelChoice Of(ModelAnswer decision, string requested, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(decision);
        if (!decision.Allowed || decision.ModelId is not { } model)
        {
            throw new ArgumentException("only an allowed model is chosen", nameof(decision));
        }

        return new ModelChoice(model, requested, decision.Placement, decision.ProviderModelId, now);
    }

    /// <summary>Writes <c>models.json</c> (0600, atomically), creating the configuration directory when missing.</summary>
    public void Save(StewardPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        PrivateFiles.EnsureDirectory(paths.ConfigDirectory);
        PrivateFiles.WriteAtomic(Path.Combine(paths.ConfigDirectory, FileName), JsonSerializer.SerializeToUtf8Bytes(this, AgentJsonContext.Output.ModelChoice));
    }
}
