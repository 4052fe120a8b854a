using System.Diagnostics.CodeAnalysis;

namespace Steward.Server.Http;

/// <summary>
/// What an operation answers, for the admin API and the console alike: its value with the status the API gives it
/// (201 for what it created), or the problem that refused it (with its status, detail and every item by field).
/// </summary>
internal sealed class Outcome<T>
    where T : class
{
    private Outcome(T? value, int status, ProblemBody? problem)
    {
        Value = value;
        Status = status;
        Problem = problem;
    }

    public T? Value { get; }

    public int Status { get; }

    public ProblemBody? Problem { get; }

    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Problem))]
    public bool Ok => Problem is null;

    public static Outcome<T> Done(T value, int status = StatusCodes.Status200OK) => new(value, status, null);

    public static Outcome<T> Refused(ProblemBody problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return new(null, problem.Status, problem);
    }

    /// <summary>The API's answer: the value as <paramref name="json"/> writes it, with its status; or the problem.</summary>
    public IResult ToResult(Func<T, byte[]> json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Ok ? new JsonBytes(json(Value), Status) : Problems.Of(Problem);
    }
}
