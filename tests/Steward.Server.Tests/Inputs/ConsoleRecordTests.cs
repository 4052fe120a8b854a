using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Identity;
using Steward.Server.Organisations;

namespace Steward.Server.Tests.Inputs;

/// <summary>
/// The console builds the API's request records in C# and validates them with <see cref="RequestRecord.Check"/>: a
/// field it leaves null counts as not given, and what it gets wrong is refused at the same paths, with the same
/// messages, as the same body sent to the API.
/// </summary>
public sealed class ConsoleRecordTests
{
    [Fact]
    public void A_record_the_console_built_is_refused_with_every_problem_at_its_path_as_its_body_would_be()
    {
        var checkedRecord = RequestRecord.Check(new NewAccount("Bad Slug", " "), ServerJsonContext.Default.NewAccount, (body, check) => body.Validate(check));
        var parsed = RequestRecord.Parse("""{"slug":"Bad Slug","name":" "}"""u8.ToArray(), ServerJsonContext.Default.NewAccount, (body, check) => body.Validate(check));
        Assert.False(checkedRecord.Ok);
        Assert.Equal(["slug", "name"], checkedRecord.Problem.Errors!.Select(e => e.Path));
        Assert.Equal(parsed.Problem!.Detail, checkedRecord.Problem.Detail);
        Assert.Equal(parsed.Problem.Errors!.Select(e => (e.Location, e.Message, e.Value)), checkedRecord.Problem.Errors!.Select(e => (e.Location, e.Message, e.Value)));
    }

    [Fact]
    public void A_field_the_console_leaves_null_is_not_given_and_takes_its_default()
    {
        var account = RequestRecord.Check(new NewAccount("platform", null), ServerJsonContext.Default.NewAccount, (body, check) => body.Validate(check));
        Assert.True(account.Ok);
        Assert.Equal(new AccountRequest("platform", "platform"), account.Value);

        var now = DateTimeOffset.Parse("2030-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var token = RequestRecord.Check(new NewToken("ci", "admin", null, null, null), ServerJsonContext.Default.NewToken, (body, check) => body.Validate(check, now));
        Assert.True(token.Ok);
        Assert.Equal(now.AddDays(TokensApi.DefaultLifetimeDays), token.Value.Expires);

        var refused = RequestRecord.Check(new NewToken(" ", "owner", null, 0, null), ServerJsonContext.Default.NewToken, (body, check) => body.Validate(check, now));
        Assert.Equal(["name", "role", "expiresInDays"], refused.Problem!.Errors!.Select(e => e.Path));
    }

    [Fact]
    public void A_field_the_console_clears_is_given_as_null_and_a_field_it_leaves_null_is_kept()
    {
        var body = new ProfileBody(null, null, null, null, 3600, null, null, null, null);
        var cleared = ProfileChange.Of(body, ["maxOfflineAgeSeconds"]);
        Assert.True(cleared.Ok);
        Assert.True(cleared.Value.MaxOfflineAgeGiven);
        Assert.Null(cleared.Value.MaxOfflineAgeSeconds);
        Assert.False(cleared.Value.RegistryUrlGiven);

        var kept = ProfileChange.Of(body);
        Assert.True(kept.Ok);
        Assert.False(kept.Value.MaxOfflineAgeGiven);

        // A cleared field is checked as the API checks a null: a flag cannot be cleared.
        var refused = ProfileChange.Of(body, ["mcpEnabled"]);
        Assert.Equal(["mcpEnabled"], refused.Problem!.Errors!.Select(e => e.Path));
    }

    [Fact]
    public void Tool_rules_the_console_writes_into_a_profile_body_are_refused_at_the_paths_the_API_names()
    {
        List<ToolRuleBody> rules = [new("*/echo", "ask", null), new("no-slash", "deny", "why")];
        var body = new ProfileBody(null, null, null, null, null, null, null, null,
            System.Text.Json.JsonSerializer.SerializeToElement(rules, ServerJsonContext.Default.ListToolRuleBody));
        var change = ProfileChange.Of(body);
        Assert.False(change.Ok);
        var error = Assert.Single(change.Problem.Errors!);
        Assert.Equal("body.toolRules[1].pattern", error.Location);
    }
}
