using System.Text.Json;
using Steward.Server.Hosting;
using Steward.Server.Http;

namespace Steward.Server.Organisations;

/// <summary>What an emergency stop is engaged with: its reason, which every developer is shown.</summary>
internal sealed record EmergencyStopRequest(string Reason)
{
    public const int MaxBodyBytes = 4 * 1024;

    public static readonly IReadOnlyList<string> Names = ["reason"];

    /// <summary>The stop a body (<c>{"reason": "…"}</c>) asks for, or the problem naming <c>reason</c>.</summary>
    public static Outcome<EmergencyStopRequest> Read(JsonForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (form.Problem is { } problem)
        {
            return Outcome<EmergencyStopRequest>.Refused(Problems.BodyOf(problem));
        }

        if (!form.Root.TryGetProperty("reason", out var reasonElement) || reasonElement.ValueKind != JsonValueKind.String
            || reasonElement.GetString()!.Trim() is not { Length: > 0 and <= EmergencyStops.MaxReasonLength } reason
            || reason.Any(char.IsControl))
        {
            return Outcome<EmergencyStopRequest>.Refused(JsonForm.FieldProblem("reason",
                $"required: what developers are told, 1 to {EmergencyStops.MaxReasonLength} characters on one line (for example \"incident INC-42: MCP is stopped while we investigate\")",
                form.Root.TryGetProperty("reason", out var given) ? given.GetRawText() : null));
        }

        return Outcome<EmergencyStopRequest>.Done(new EmergencyStopRequest(reason));
    }
}
