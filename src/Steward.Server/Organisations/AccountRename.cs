namespace Steward.Server.Organisations;

/// <summary>An account's new name (its display name; the slug stays).</summary>
internal sealed record AccountRename(string Name)
{
    public static readonly IReadOnlyList<string> Names = ["name"];

    /// <summary>The name a body (<c>{"name": "Platform team"}</c>) asks for, or the problem naming <c>name</c>.</summary>
    public static Outcome<AccountRename> Read(JsonForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (form.Problem is { } problem)
        {
            return Outcome<AccountRename>.Refused(Problems.BodyOf(problem));
        }

        if (!form.Root.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Trim() is not { Length: > 0 and <= 200 } name)
        {
            return Outcome<AccountRename>.Refused(JsonForm.FieldProblem("name", "expected a string of 1 to 200 characters: the account's new name (its slug stays)",
                nameElement.ValueKind == JsonValueKind.Undefined ? null : nameElement.GetRawText()));
        }

        return Outcome<AccountRename>.Done(new AccountRename(name));
    }
}
