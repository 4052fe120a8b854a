using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent.Sources;
using Steward.Cli.AgentCommands;
using Steward.Cli.Models;
using Steward.Core.Audit;

namespace Steward.Cli.Audit;

/// <summary>
/// <c>steward audit verify [--server url --org o --token t | --file audit.jsonl]</c>: checks an audit hash chain and names
/// the first broken link: on a Steward server, the organisation's audit rows (the row id and what differs); in a file, the
/// JSONL lines carrying <c>prevHash</c>/<c>hash</c> (the line number). Exit 0 intact, 1 broken, 2 unreadable or unreachable.
/// </summary>
internal static class AuditCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null, HttpMessageHandler? handler = null)
    {
        var audit = new Command("audit", "Work with audit trails.");
        var server = ModelServer.ServerOption();
        var token = ModelServer.TokenOption();
        var org = new Option<string?>("--org") { Description = "The organisation whose audit to verify (on a server)." };
        var file = new Option<string?>("--file") { Description = "Verify a JSONL audit log (such as the gateway's audit.jsonl) instead of a server." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var verify = new Command("verify", "Check an audit hash chain and name the first broken link.") { server, token, org, file, json };
        verify.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            if (parse.GetValue(file) is { } path)
            {
                return await VerifyFileAsync(console, stdout, stderr, Path.GetFullPath(path, env.WorkingDirectory), parse.GetValue(json)).ConfigureAwait(false);
            }

            if (parse.GetValue(org) is not { Length: > 0 } organisation)
            {
                return AgentOutput.Error(stderr, "--org: name the organisation to verify, or pass --file for a JSONL log", ExitCodes.Usage);
            }

            var (target, error) = StewardServerClient.Resolve(parse.GetValue(server), parse.GetValue(token), env.Paths, env.Variables);
            if (target is null)
            {
                return AgentOutput.Error(stderr, error!, ExitCodes.Unreadable);
            }

            using var http = handler is null ? StewardServerClient.CreateHttp(TimeSpan.FromSeconds(100), env.Variables) : new HttpClient(handler, disposeHandler: false);
            var (document, failure, exit) = await ModelServer.GetAsync(target, http, $"api/v1/orgs/{Uri.EscapeDataString(organisation)}/audit/verify", cancellationToken).ConfigureAwait(false);
            if (document is null)
            {
                return AgentOutput.Error(stderr, failure!, exit);
            }

            using (document)
            {
                var root = document.RootElement;
                if (parse.GetValue(json))
                {
                    await stdout.WriteLineAsync(root.GetRawText()).ConfigureAwait(false);
                }
                else if (root.TryGetProperty("broken", out var broken))
                {
                    console.MarkupLineInterpolated($"[red]broken[/]: the audit of {organisation} breaks at row {broken.GetProperty("id").GetInt64()} (the {Ordinal(broken.GetProperty("index").GetInt64() + 1)} row): {broken.GetProperty("reason").GetString()}");
                }
                else
                {
                    console.MarkupLineInterpolated($"[green]intact[/]: {root.GetProperty("rows").GetInt64()} audit rows of {organisation} form one chain; head {root.GetProperty("head").GetString()}");
                }

                return root.TryGetProperty("broken", out _) ? ExitCodes.Invalid : ExitCodes.Ok;
            }
        });
        audit.Subcommands.Add(verify);
        return audit;
    }

    private static async Task<int> VerifyFileAsync(IAnsiConsole console, TextWriter stdout, TextWriter stderr, string path, bool json)
    {
        JsonlVerification result;
        try
        {
            using var reader = new StreamReader(path);
            result = JsonlChain.Verify(reader);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return AgentOutput.Error(stderr, $"{path} cannot be read: {e.Message}", ExitCodes.Unreadable);
        }

        if (json)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteBoolean("intact", result.Intact);
                writer.WriteNumber("records", result.Records);
                writer.WriteString("head", result.Head);
                if (result.BrokenLine is { } line)
                {
                    writer.WriteStartObject("broken");
                    writer.WriteNumber("line", line);
                    writer.WriteString("reason", result.Reason);
                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
            }

            await stdout.WriteLineAsync(System.Text.Encoding.UTF8.GetString(buffer.ToArray())).ConfigureAwait(false);
        }
        else if (result.BrokenLine is { } line)
        {
            console.MarkupLineInterpolated($"[red]broken[/]: {path} breaks at line {line}: {result.Reason}");
        }
        else
        {
            console.MarkupLineInterpolated($"[green]intact[/]: {result.Records} records in {path} form one chain; head {result.Head}");
        }

        return result.Intact ? ExitCodes.Ok : ExitCodes.Invalid;
    }

    private static string Ordinal(long n) => (n % 100) switch
    {
        11 or 12 or 13 => $"{n}th",
        _ => (n % 10) switch { 1 => $"{n}st", 2 => $"{n}nd", 3 => $"{n}rd", _ => $"{n}th" },
    };
}
