using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Steward.Server.Registry;

namespace Steward.Server.AdminConsole;

/// <summary>A page of an organisation's console: the signed-in admin, the organisation and the chosen account (the session gate put them there).</summary>
public abstract class ConsolePage : ComponentBase
{
    [CascadingParameter]
    public HttpContext HttpContext { get; set; } = default!;

    [Parameter]
    public string Org { get; set; } = "";

    internal ConsoleUser User => (ConsoleUser)HttpContext.Items[typeof(ConsoleUser)]!;

    /// <summary>A console link that keeps the chosen account.</summary>
    internal string Link(string page, string? query = null)
    {
        var path = User.Base + (page.Length == 0 ? "" : "/" + page);
        var account = User.Account is null ? null : "account=" + Uri.EscapeDataString(User.Account.Slug);
        var all = string.Join("&", new[] { account, query }.Where(q => !string.IsNullOrEmpty(q)));
        return all.Length == 0 ? path : path + "?" + all;
    }

    /// <summary>Whether this request is the POST of the form named <paramref name="formName"/>.</summary>
    internal bool Posted(string formName) =>
        HttpMethods.IsPost(HttpContext.Request.Method) && HttpContext.Request.HasFormContentType && HttpContext.Request.Form["_handler"] == formName;

    /// <summary>
    /// Runs an operation that may write, as the signed-in admin's own request would through the admin API, then raises
    /// <see cref="LocalChanges"/> as the API's middleware does: the page may read back what it just changed within this
    /// request, and held policy channels wake.
    /// </summary>
    internal async Task<T> WriteAsync<T>(Func<Task<T>> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        try
        {
            return await write().ConfigureAwait(false);
        }
        finally
        {
            HttpContext.RequestServices.GetRequiredService<LocalChanges>().Changed();
        }
    }

    /// <inheritdoc cref="WriteAsync{T}"/>
    internal async Task WriteAsync(Func<Task> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        await WriteAsync(async () =>
        {
            await write().ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Saves a reviewed profile body to the chosen account's profile, or the organisation's: validated as the API
    /// validates the same body (<paramref name="cleared"/>: the fields it sets to null), then written by the profile operation.
    /// </summary>
    internal Task<Outcome<ProfileView>> SaveProfileAsync(ProfileBody body, IReadOnlyCollection<string>? cleared = null) => WriteAsync(async () =>
    {
        var change = ProfileChange.Of(body, cleared);
        if (!change.Ok)
        {
            return Outcome<ProfileView>.Refused(change.Problem);
        }

        var services = HttpContext.RequestServices;
        return await ProfileOperations.UpdateAsync(services.GetRequiredService<Database>(), User.Grant.Caller, User.Organisation, User.Account?.Slug, change.Value,
            services.GetRequiredService<TimeProvider>(), services.GetService<ExternalRegistrySync>(), HttpContext.RequestAborted).ConfigureAwait(false);
    });

    /// <summary>Publishes a pasted server.json to the organisation's registry (read and validated as the API reads a publish's body).</summary>
    internal async Task<Outcome<StoredEntry>> PublishServerJsonAsync(string serverJson)
    {
        var server = RegistryOperations.ReadServerJson(System.Text.Encoding.UTF8.GetBytes(serverJson));
        if (!server.Ok)
        {
            return Outcome<StoredEntry>.Refused(server.Problem);
        }

        var services = HttpContext.RequestServices;
        return await RegistryOperations.PublishAsync(services.GetRequiredService<Database>(), User.Grant.Caller, User.Organisation, server.Value,
            services.GetRequiredService<TimeProvider>(), HttpContext.RequestAborted).ConfigureAwait(false);
    }

    internal string FormValue(string name) => HttpMethods.IsPost(HttpContext.Request.Method) && HttpContext.Request.HasFormContentType ? HttpContext.Request.Form[name].ToString() : "";
}

internal static class ConsoleProblems
{
    /// <summary>What the console shows of a problem: its detail (else its title) and its items (path or location, message, hint).</summary>
    public static (string Detail, IReadOnlyList<ProblemItem> Items) Describe(ProblemBody problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return (problem.Detail ?? problem.Title, problem.Errors ?? []);
    }
}
