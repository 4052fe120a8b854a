using System.Text.Encodings.Web;
using System.Text.Json;

namespace Steward.Agent.Scan;

/// <summary>
/// The scan report for programs: Steward's JSON, or SARIF 2.1.0 (one run; the rules of <see cref="ScanRules"/>; each result
/// with its rule id and level, the file as its physical location with the line when known, and the JSON path as a
/// logical location). Secrets appear as their kind and redacted prefix only.
/// </summary>
public static class ScanReportWriter
{
    public const string SarifSchema = "https://json.schemastore.org/sarif-2.1.0.json";

    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Json(ScanReport report, FixResult? fix = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        return Write(w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("findings", report.HasFindings);
            if (report.PolicyNote is { } note)
            {
                w.WriteString("policy", note);
            }

            w.WriteStartArray("files");
            foreach (var file in report.Files)
            {
                w.WriteStartObject();
                w.WriteString("host", file.Host);
                w.WriteString("scope", file.Scope);
                w.WriteString("path", file.Path);
                if (file.Mode is { } mode)
                {
                    w.WriteString("mode", mode);
                }

                w.WriteNumber("servers", file.Servers);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("servers");
            foreach (var server in report.Servers)
            {
                w.WriteStartObject();
                w.WriteString("host", server.Host);
                w.WriteString("file", server.File);
                w.WriteString("name", server.Name);
                w.WriteString("path", server.JsonPath);
                w.WriteString("admission", server.Admission);
                if (server.Reason is { } reason)
                {
                    w.WriteString("reason", reason);
                }

                if (server.RegistryName is { } registryName)
                {
                    w.WriteString("registryName", registryName);
                }

                w.WriteString("message", server.Message);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("results");
            foreach (var finding in report.Findings)
            {
                w.WriteStartObject();
                w.WriteString("rule", finding.Rule);
                w.WriteString("level", finding.Level);
                w.WriteString("host", finding.Host);
                w.WriteString("file", finding.File);
                if (finding.Path.Count > 0)
                {
                    w.WriteString("path", finding.JsonPathText);
                }

                if (finding.Line is { } line)
                {
                    w.WriteNumber("line", line);
                }

                if (finding.Server is { } server)
                {
                    w.WriteString("server", server);
                }

                if (finding.SecretKind is { } kind)
                {
                    w.WriteString("secretKind", kind);
                    w.WriteString("redacted", finding.Redacted);
                }

                w.WriteString("message", finding.Message);
                w.WriteBoolean("fixable", finding.Fix is not null);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (fix is not null)
            {
                WriteFix(w, fix);
            }

            w.WriteEndObject();
        });
    }

    public static byte[] Sarif(ScanReport report, string toolVersion)
    {
        ArgumentNullException.ThrowIfNull(report);
        var rules = ScanRules.All;
        return Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("$schema", SarifSchema);
            w.WriteString("version", "2.1.0");
            w.WriteStartArray("runs");
            w.WriteStartObject();
            w.WriteStartObject("tool");
            w.WriteStartObject("driver");
            w.WriteString("name", "steward");
            w.WriteString("semanticVersion", toolVersion);
            w.WriteStartArray("rules");
            foreach (var (id, level, description) in rules)
            {
                w.WriteStartObject();
                w.WriteString("id", id);
                w.WriteStartObject("shortDescription");
                w.WriteString("text", description);
                w.WriteEndObject();
                w.WriteStartObject("defaultConfiguration");
                w.WriteString("level", level);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartArray("results");
            foreach (var finding in report.Findings)
            {
                w.WriteStartObject();
                w.WriteString("ruleId", finding.Rule);
                w.WriteNumber("ruleIndex", rules.Select(r => r.Id).ToList().IndexOf(finding.Rule));
                w.WriteString("level", finding.Level);
                w.WriteStartObject("message");
                w.WriteString("text", finding.Message);
                w.WriteEndObject();
                w.WriteStartArray("locations");
                w.WriteStartObject();
                w.WriteStartObject("physicalLocation");
                w.WriteStartObject("artifactLocation");
                w.WriteString("uri", new Uri(Path.GetFullPath(finding.File)).AbsoluteUri);
                w.WriteEndObject();
                if (finding.Line is { } line)
                {
                    w.WriteStartObject("region");
                    w.WriteNumber("startLine", line);
                    if (finding.Column is { } column)
                    {
                        w.WriteNumber("startColumn", column);
                    }

                    w.WriteEndObject();
                }

                w.WriteEndObject();
                if (finding.Path.Count > 0)
                {
                    w.WriteStartArray("logicalLocations");
                    w.WriteStartObject();
                    w.WriteString("fullyQualifiedName", finding.JsonPathText);
                    w.WriteString("kind", "member");
                    w.WriteEndObject();
                    w.WriteEndArray();
                }

                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteStartObject("properties");
                w.WriteString("host", finding.Host);
                if (finding.Server is { } server)
                {
                    w.WriteString("server", server);
                }

                if (finding.SecretKind is { } kind)
                {
                    w.WriteString("secretKind", kind);
                    w.WriteString("redacted", finding.Redacted);
                }

                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static void WriteFix(Utf8JsonWriter w, FixResult fix)
    {
        w.WriteStartObject("fix");
        w.WriteStartArray("backups");
        fix.Backups.ToList().ForEach(w.WriteStringValue);
        w.WriteEndArray();
        w.WriteStartArray("changed");
        fix.Changed.ToList().ForEach(w.WriteStringValue);
        w.WriteEndArray();

        // Names only: the values go to the terminal, never into a report.
        w.WriteStartArray("variablesToExport");
        fix.Exports.Select(e => e.Variable).ToList().ForEach(w.WriteStringValue);
        w.WriteEndArray();
        w.WriteStartArray("errors");
        fix.Errors.ToList().ForEach(w.WriteStringValue);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Options))
        {
            body(writer);
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }
}
