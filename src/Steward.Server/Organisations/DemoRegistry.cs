namespace Steward.Server.Organisations;

/// <summary>
/// The demo organisation's registry: three real npm servers run by Node's <c>npx</c>, so that the demo needs Node.js
/// and nothing else (no uv, no Docker, no remote service). Each is validated by Core when seeded. A PyPI, an OCI and a
/// remote server are in <c>docs/examples/registry-examples.json</c>, for an admin to import on purpose.
/// </summary>
internal static class DemoRegistry
{
    public const string Slug = "demo";
    public const string Name = "Demo organisation";

    private const string Schema = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

    public static IReadOnlyList<string> Servers { get; } =
    [
        $$"""
        {
          "$schema": "{{Schema}}",
          "name": "io.github.modelcontextprotocol/server-everything",
          "title": "Everything",
          "description": "Exercises every MCP feature (tools, resources, prompts, sampling) for testing clients",
          "repository": { "url": "https://github.com/modelcontextprotocol/servers", "source": "github", "subfolder": "src/everything" },
          "version": "2026.8.31",
          "packages": [
            {
              "registryType": "npm",
              "registryBaseUrl": "https://registry.npmjs.org",
              "identifier": "@modelcontextprotocol/server-everything",
              "version": "2026.8.31",
              "runtimeHint": "npx",
              "transport": { "type": "stdio" }
            }
          ]
        }
        """,
        $$"""
        {
          "$schema": "{{Schema}}",
          "name": "io.github.modelcontextprotocol/server-filesystem",
          "title": "Filesystem",
          "description": "Read, write, search and move files inside the directories it is given",
          "repository": { "url": "https://github.com/modelcontextprotocol/servers", "source": "github", "subfolder": "src/filesystem" },
          "version": "2026.8.31",
          "packages": [
            {
              "registryType": "npm",
              "registryBaseUrl": "https://registry.npmjs.org",
              "identifier": "@modelcontextprotocol/server-filesystem",
              "version": "2026.8.31",
              "runtimeHint": "npx",
              "transport": { "type": "stdio" },
              "packageArguments": [
                {
                  "type": "positional",
                  "valueHint": "directory",
                  "description": "A directory the server may access",
                  "format": "filepath",
                  "isRequired": true,
                  "isRepeated": true
                }
              ]
            }
          ]
        }
        """,
        $$"""
        {
          "$schema": "{{Schema}}",
          "name": "io.github.modelcontextprotocol/server-memory",
          "title": "Memory",
          "description": "Knowledge-graph memory: entities, relations and observations kept in a local file",
          "repository": { "url": "https://github.com/modelcontextprotocol/servers", "source": "github", "subfolder": "src/memory" },
          "version": "2026.8.31",
          "packages": [
            {
              "registryType": "npm",
              "registryBaseUrl": "https://registry.npmjs.org",
              "identifier": "@modelcontextprotocol/server-memory",
              "version": "2026.8.31",
              "runtimeHint": "npx",
              "transport": { "type": "stdio" },
              "environmentVariables": [
                {
                  "name": "MEMORY_FILE_PATH",
                  "description": "Where the memory file is kept",
                  "format": "filepath"
                }
              ]
            }
          ]
        }
        """,
    ];
}
