namespace Steward.Server.Organisations;

/// <summary>What an account is created with: its slug (its identifier in URLs, tokens and exports, which never changes) and its name.</summary>
internal sealed record NewAccount(string Slug, string Name)
{
    public static readonly IReadOnlyList<string> Names = ["slug", "name"];

    /// <summary>
    /// The account a body (<c>{"slug": "platform", "name"?: "Platform team"}</c>) asks for, or the first problem, naming
    /// its field. The name is the slug when left out.
    /// </summary>
    public static Outcome<NewAccount> Read(JsonForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (form.Problem is { } problem)
        {
            return Outcome<NewAccount>.Refused(Problems.BodyOf(problem));
        }

        if (!form.Root.TryGetProperty("slug", out var slugElement) || slugElement.ValueKind != JsonValueKind.String || !ProfilesApi.Slug().IsMatch(slugElement.GetString()!))
        {
            return Outcome<NewAccount>.Refused(JsonForm.FieldProblem("slug", "expected 1 to 63 lowercase letters, digits and '-', starting with a letter or digit",
                slugElement.ValueKind == JsonValueKind.Undefined ? null : slugElement.GetRawText()));
        }

        var slug = slugElement.GetString()!;
        var name = slug;
        if (form.Root.TryGetProperty("name", out var nameElement))
        {
            if (nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Trim() is not { Length: > 0 and <= 200 } trimmed)
            {
                return Outcome<NewAccount>.Refused(JsonForm.FieldProblem("name", "expected a string of 1 to 200 characters", nameElement.GetRawText()));
            }

            name = trimmed;
        }

        return Outcome<NewAccount>.Done(new NewAccount(slug, name));
    }
}
