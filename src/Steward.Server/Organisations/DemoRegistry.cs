namespace Steward.Server.Organisations;

/// <summary>
/// The demo organisation's registry: real servers as published on npm, PyPI, GitHub's container registry and the web,
/// one of each kind (npm ×3, pypi, oci, remote). Each is validated by Core when seeded.
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
        $$"""
        {
          "$schema": "{{Schema}}",
          "name": "io.github.modelcontextprotocol/server-fetch",
          "title": "Fetch",
          "description": "Fetches web pages and converts them to markdown for language models",
          "repository": { "url": "https://github.com/modelcontextprotocol/servers", "source": "github", "subfolder": "src/fetch" },
          "version": "2026.10.24",
          "packages": [
            {
              "registryType": "pypi",
              "registryBaseUrl": "https://pypi.org",
              "identifier": "mcp-server-fetch",
              "version": "2026.10.24",
              "runtimeHint": "uvx",
              "transport": { "type": "stdio" }
            }
          ]
        }
        """,
        $$"""
        {
          "$schema": "{{Schema}}",
          "name": "io.github.github/github-mcp-server",
          "title": "GitHub",
          "description": "Connect AI assistants to GitHub - manage repos, issues, PRs, and workflows through natural language.",
          "repository": { "url": "https://github.com/github/github-mcp-server", "source": "github" },
          "version": "0.20.2",
          "packages": [
            {
              "registryType": "oci",
              "identifier": "ghcr.io/github/github-mcp-server:0.20.2",
              "transport": { "type": "stdio" },
              "runtimeArguments": [
                { "type": "positional", "value": "run", "description": "The runtime command to execute", "isRequired": true },
                { "type": "named", "name": "-i", "value": "true", "format": "boolean", "description": "Run container in interactive mode", "isRequired": true },
                { "type": "named", "name": "--rm", "value": "true", "format": "boolean", "description": "Automatically remove the container when it exits" },
                {
                  "type": "named",
                  "name": "-e",
                  "value": "GITHUB_PERSONAL_ACCESS_TOKEN={token}",
                  "description": "Set an environment variable in the runtime",
                  "isRequired": true,
                  "variables": { "token": { "isRequired": true, "format": "string", "isSecret": true } }
                },
                { "type": "positional", "value": "ghcr.io/github/github-mcp-server", "valueHint": "image_name", "description": "The container image to run", "isRequired": true }
              ]
            }
          ]
        }
        """,
        $$"""
        {
          "$schema": "{{Schema}}",
          "name": "com.notion/mcp",
          "title": "Notion",
          "description": "Official Notion MCP server",
          "version": "1.0.1",
          "remotes": [
            { "type": "streamable-http", "url": "https://mcp.notion.com/mcp" }
          ]
        }
        """,
    ];
}
