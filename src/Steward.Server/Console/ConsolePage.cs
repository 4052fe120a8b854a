using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;

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

    internal string FormValue(string name) => HttpMethods.IsPost(HttpContext.Request.Method) && HttpContext.Request.HasFormContentType ? HttpContext.Request.Form[name].ToString() : "";
}
