// The conformance upstream: an MCP server built on the TypeScript SDK (@modelcontextprotocol/sdk, low-level `Server`)
// that implements what every server scenario of `@modelcontextprotocol/conformance` 0.1.16 (`--suite all`) calls: the
// suite's reference tools (test_simple_text, test_image_content, test_sampling, test_elicitation, …,
// json_schema_2020_12_tool), resources (test://static-text, test://static-binary, test://watched-resource and the
// template test://template/{id}/data), prompts (test_simple_prompt, test_prompt_with_arguments, …), completions,
// logging/setLevel, subscriptions and the SSE polling tool test_reconnection. Steward's tests run the suite against it
// directly and through `steward gateway`, so that a check the gateway loses shows.
//
//   node conformance-server.mjs [--stdio]                  one session over stdin/stdout (the default)
//   node conformance-server.mjs --http <port> [--allow-host <name>]...
//       streamable HTTP at http://127.0.0.1:<port>/mcp (0: any free port), one SDK server per session, an in-memory
//       event store (resumability, SEP-1699). Requests whose Host, or Origin when present, is not a loopback name get
//       403 (DNS rebinding); --allow-host admits one more host name. When listening it prints on stderr:
//       `conformance-server: listening on http://127.0.0.1:<port>/mcp`.
//
// Logs go to stderr only; stdout carries only the protocol in stdio mode.
import http from "node:http";
import zlib from "node:zlib";
import { randomUUID } from "node:crypto";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListRootsResultSchema,
  ListToolsRequestSchema,
  McpError,
  ErrorCode,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  isInitializeRequest,
} from "@modelcontextprotocol/sdk/types.js";

const log = (text) => process.stderr.write(`conformance-server: ${text}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------------
// Media made here rather than pasted: a 2x2 PNG (8-bit RGB, four colours) and a short WAV (8 kHz, 16-bit mono, silence).

function pngChunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

function makePng() {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0); // width
  header.writeUInt32BE(2, 4); // height
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  // Each row: filter byte 0, then RGB per pixel.
  const rows = Buffer.from([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", zlib.deflateSync(rows)),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

function makeWav() {
  const samples = 16;
  const data = Buffer.alloc(samples * 2);
  const wav = Buffer.alloc(44);
  wav.write("RIFF", 0, "ascii");
  wav.writeUInt32LE(36 + data.length, 4);
  wav.write("WAVE", 8, "ascii");
  wav.write("fmt ", 12, "ascii");
  wav.writeUInt32LE(16, 16); // fmt chunk size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(8000, 24); // sample rate
  wav.writeUInt32LE(8000 * 2, 28); // byte rate
  wav.writeUInt16LE(2, 32); // block align
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write("data", 36, "ascii");
  wav.writeUInt32LE(data.length, 40);
  return Buffer.concat([wav, data]);
}

const PNG = makePng().toString("base64");
const WAV = makeWav().toString("base64");

// ---------------------------------------------------------------------------------------------------------------------
// Tools: name, description, the input schema exactly as listed (raw JSON Schema, nothing converted), and what a call does.

const noArguments = { type: "object", properties: {} };
const text = (value) => ({ type: "text", text: value });

/** Sends an info-level logging message on the call's own stream, unless the session's level filters it out. */
async function logInfo(server, extra, data) {
  if (!server.isMessageIgnored("info", extra.sessionId)) {
    await extra.sendNotification({ method: "notifications/message", params: { level: "info", logger: "conformance-server", data } });
  }
}

/** Elicitation from the client (on the call's stream), or an isError result when it did not declare the capability. */
async function elicit(server, extra, params) {
  if (!server.getClientCapabilities()?.elicitation) {
    return { failed: { isError: true, content: [text("This client did not declare the elicitation capability.")] } };
  }

  return { result: await extra.sendRequest({ method: "elicitation/create", params }, ElicitResultSchema) };
}

const tools = [
  {
    name: "test_simple_text",
    description: "Answers with one text block",
    inputSchema: noArguments,
    call: async () => ({ content: [text("This is a simple text response for testing.")] }),
  },
  {
    name: "test_image_content",
    description: "Answers with one PNG image block",
    inputSchema: noArguments,
    call: async () => ({ content: [{ type: "image", data: PNG, mimeType: "image/png" }] }),
  },
  {
    name: "test_audio_content",
    description: "Answers with one WAV audio block",
    inputSchema: noArguments,
    call: async () => ({ content: [{ type: "audio", data: WAV, mimeType: "audio/wav" }] }),
  },
  {
    name: "test_embedded_resource",
    description: "Answers with an embedded text resource",
    inputSchema: noArguments,
    call: async () => ({
      content: [{ type: "resource", resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." } }],
    }),
  },
  {
    name: "test_multiple_content_types",
    description: "Answers with a text, an image and an embedded resource block",
    inputSchema: noArguments,
    call: async () => ({
      content: [
        text("Multiple content types test:"),
        { type: "image", data: PNG, mimeType: "image/png" },
        { type: "resource", resource: { uri: "test://mixed-content-resource", mimeType: "application/json", text: JSON.stringify({ test: "data", value: 123 }) } },
      ],
    }),
  },
  {
    name: "test_tool_with_logging",
    description: "Sends three info logging messages while it runs, 50 ms apart",
    inputSchema: noArguments,
    call: async (_args, extra, server) => {
      await logInfo(server, extra, "Tool execution started");
      await sleep(50);
      await logInfo(server, extra, "Tool processing data");
      await sleep(50);
      await logInfo(server, extra, "Tool execution completed");
      return { content: [text("Logged three messages.")] };
    },
  },
  {
    name: "test_tool_with_progress",
    description: "Reports progress 0, 50 and 100 of 100 to the call's progress token, 50 ms apart",
    inputSchema: noArguments,
    call: async (_args, extra) => {
      const token = extra._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (token !== undefined) {
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, total: 100, message: `step ${progress}` } });
        }

        if (progress < 100) {
          await sleep(50);
        }
      }

      return { content: [text(token === undefined ? "Done (no progress token was given)." : "Done; progress reported.")] };
    },
  },
  {
    name: "test_error_handling",
    description: "Always fails, as a tool result with isError",
    inputSchema: noArguments,
    call: async () => ({ isError: true, content: [text("This tool intentionally returns an error for testing")] }),
  },
  {
    name: "test_sampling",
    description: "Asks the client to sample (sampling/createMessage) with the given prompt",
    inputSchema: { type: "object", properties: { prompt: { type: "string", description: "The prompt for the LLM" } }, required: ["prompt"] },
    call: async (args, extra, server) => {
      if (!server.getClientCapabilities()?.sampling) {
        return { isError: true, content: [text("This client did not declare the sampling capability.")] };
      }

      const result = await extra.sendRequest(
        { method: "sampling/createMessage", params: { messages: [{ role: "user", content: text(String(args.prompt ?? "")) }], maxTokens: 100 } },
        CreateMessageResultSchema,
      );
      const answer = result.content?.type === "text" ? result.content.text : JSON.stringify(result.content);
      return { content: [text(`LLM response: ${answer}`)] };
    },
  },
  {
    name: "test_elicitation",
    description: "Asks the client for a username and an email (elicitation/create) with the given message",
    inputSchema: { type: "object", properties: { message: { type: "string", description: "The message to show the user" } }, required: ["message"] },
    call: async (args, extra, server) => {
      const { failed, result } = await elicit(server, extra, {
        message: String(args.message ?? ""),
        requestedSchema: {
          type: "object",
          properties: {
            username: { type: "string", description: "User's response" },
            email: { type: "string", description: "User's email address" },
          },
          required: ["username", "email"],
        },
      });
      return failed ?? { content: [text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
    },
  },
  {
    name: "test_elicitation_sep1034_defaults",
    description: "Elicits a form whose string, integer, number, enum and boolean fields have defaults (SEP-1034)",
    inputSchema: noArguments,
    call: async (_args, extra, server) => {
      const { failed, result } = await elicit(server, extra, {
        message: "Please check these values",
        requestedSchema: {
          type: "object",
          properties: {
            name: { type: "string", description: "Name", default: "John Doe" },
            age: { type: "integer", description: "Age", default: 30 },
            score: { type: "number", description: "Score", default: 95.5 },
            status: { type: "string", description: "Status", enum: ["active", "inactive", "pending"], default: "active" },
            verified: { type: "boolean", description: "Verified", default: true },
          },
        },
      });
      return failed ?? { content: [text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
    },
  },
  {
    name: "test_elicitation_sep1330_enums",
    description: "Elicits a form with the five enum shapes of SEP-1330",
    inputSchema: noArguments,
    call: async (_args, extra, server) => {
      const { failed, result } = await elicit(server, extra, {
        message: "Please choose",
        requestedSchema: {
          type: "object",
          properties: {
            untitledSingle: { type: "string", description: "Untitled single-select", enum: ["option1", "option2", "option3"] },
            titledSingle: {
              type: "string",
              description: "Titled single-select",
              oneOf: [
                { const: "value1", title: "First Option" },
                { const: "value2", title: "Second Option" },
                { const: "value3", title: "Third Option" },
              ],
            },
            legacyEnum: { type: "string", description: "Legacy titled enum", enum: ["opt1", "opt2", "opt3"], enumNames: ["Option One", "Option Two", "Option Three"] },
            untitledMulti: { type: "array", description: "Untitled multi-select", items: { type: "string", enum: ["option1", "option2", "option3"] } },
            titledMulti: {
              type: "array",
              description: "Titled multi-select",
              items: {
                anyOf: [
                  { const: "value1", title: "First Choice" },
                  { const: "value2", title: "Second Choice" },
                  { const: "value3", title: "Third Choice" },
                ],
              },
            },
          },
        },
      });
      return failed ?? { content: [text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
    },
  },
  {
    name: "json_schema_2020_12_tool",
    description: "Tool with JSON Schema 2020-12 features",
    inputSchema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: { address: { type: "object", properties: { street: { type: "string" }, city: { type: "string" } } } },
      properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
      additionalProperties: false,
    },
    call: async (args) => ({ content: [text(`Received: ${JSON.stringify(args)}`)] }),
  },
  {
    name: "test_reconnection",
    description: "Closes its SSE stream mid-call (when the session can resume), then answers on the resumed stream (SEP-1699)",
    inputSchema: noArguments,
    call: async (_args, extra) => {
      await sleep(100);
      const closed = typeof extra.closeSSEStream === "function";
      if (closed) {
        extra.closeSSEStream();
      }

      await sleep(closed ? 200 : 0);
      return { content: [text(closed ? "Answered after the stream was closed." : "Answered (this stream cannot be resumed, so it stayed open).")] };
    },
  },
];

// The 2026-07-28 suite's input-required tools (its scenarios input-required-result-*), written as a server of the
// session revisions writes them: each asks the client with requests from server to client. Through Steward's gateway
// a 2026-07-28 host gets those questions as input_required rounds and answers them on its retries.
const asking = (extra, method, params, schema) => extra.sendRequest({ method, params }, schema);
const askName = (message) => ({ message, requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } });
const askSampling = (prompt, maxTokens) => ({ messages: [{ role: "user", content: text(prompt) }], maxTokens });
const sampledText = (result) => (result.content?.type === "text" ? result.content.text : JSON.stringify(result.content));
tools.push(
  {
    name: "test_input_required_result_elicitation",
    description: "Asks the user's name (elicitation) and greets them",
    inputSchema: noArguments,
    call: async (args, extra) => {
      const answer = await asking(extra, "elicitation/create", askName("What is your name?"), ElicitResultSchema);
      return { content: [text(`Hello, ${answer.content?.name ?? "stranger"}!`)] };
    },
  },
  {
    name: "test_input_required_result_sampling",
    description: "Asks the client's model the capital of France (sampling)",
    inputSchema: noArguments,
    call: async (args, extra) => {
      const answer = await asking(extra, "sampling/createMessage", askSampling("What is the capital of France?", 100), CreateMessageResultSchema);
      return { content: [text(sampledText(answer))] };
    },
  },
  {
    name: "test_input_required_result_list_roots",
    description: "Asks the client's roots (roots/list) and names them",
    inputSchema: noArguments,
    call: async (args, extra) => {
      const answer = await asking(extra, "roots/list", {}, ListRootsResultSchema);
      return { content: [text(`Roots: ${answer.roots.map((r) => r.uri).join(", ") || "(none)"}`)] };
    },
  },
  {
    name: "test_input_required_result_request_state",
    description: "Asks for a confirmation (elicitation) and says state-ok once it has it",
    inputSchema: noArguments,
    call: async (args, extra) => {
      const answer = await asking(extra, "elicitation/create",
        { message: "Please confirm", requestedSchema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] } }, ElicitResultSchema);
      return { content: [text(`state-ok: confirmed=${answer.content?.ok === true}`)] };
    },
  },
  {
    name: "test_input_required_result_multiple_inputs",
    description: "Asks for a name, a greeting and the roots at once",
    inputSchema: noArguments,
    call: async (args, extra) => {
      const [name, greeting, roots] = await Promise.all([
        asking(extra, "elicitation/create", askName("What is your name?"), ElicitResultSchema),
        asking(extra, "sampling/createMessage", askSampling("Generate a greeting", 50), CreateMessageResultSchema),
        asking(extra, "roots/list", {}, ListRootsResultSchema),
      ]);
      return { content: [text(`${sampledText(greeting)} ${name.content?.name ?? ""} (${roots.roots.length} roots)`)] };
    },
  },
  {
    name: "test_input_required_result_multi_round",
    description: "Asks two questions, one after the other",
    inputSchema: noArguments,
    call: async (args, extra) => {
      const name = await asking(extra, "elicitation/create", askName("Step 1: What is your name?"), ElicitResultSchema);
      const color = await asking(extra, "elicitation/create",
        { message: "Step 2: What is your favorite color?", requestedSchema: { type: "object", properties: { color: { type: "string" } }, required: ["color"] } },
        ElicitResultSchema);
      return { content: [text(`${name.content?.name ?? ""} likes ${color.content?.color ?? ""}`)] };
    },
  },
  {
    name: "test_input_required_result_tampered_state",
    description: "Asks for a confirmation (elicitation)",
    inputSchema: noArguments,
    call: async (args, extra) => {
      const answer = await asking(extra, "elicitation/create",
        { message: "Please confirm", requestedSchema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] } }, ElicitResultSchema);
      return { content: [text(`confirmed=${answer.content?.ok === true}`)] };
    },
  },
  {
    name: "test_input_required_result_capabilities",
    description: "Asks by elicitation and by sampling at once; what the client cannot answer is left out",
    inputSchema: noArguments,
    call: async (args, extra) => {
      const answers = await Promise.allSettled([
        asking(extra, "elicitation/create", askName("What is your name?"), ElicitResultSchema),
        asking(extra, "sampling/createMessage", askSampling("Say hello", 20), CreateMessageResultSchema),
      ]);
      return { content: [text(answers.map((a) => a.status).join(", "))] };
    },
  },
);

// The 2026-07-28 suite's tasks fixtures (its scenarios tasks-*), as a server of the session revisions writes them: each
// runs in the call, asking with requests from server to client. Through Steward's gateway a host that declares the tasks
// extension gets a call that outlasts a moment, or asks, as a task it polls (tasks/get) and answers (tasks/update).
const sleepUnless = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(timer); reject(new Error("cancelled")); }, { once: true });
});
const askConfirm = (message) => ({ message, requestedSchema: { type: "object", properties: { confirm: { type: "boolean" } }, required: ["confirm"] } });
tools.push(
  {
    name: "greet",
    description: "Greets at once (no task)",
    inputSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
    call: async (args) => ({ content: [text(`Hello, ${args.name}!`)] }),
  },
  {
    name: "slow_compute",
    description: "Sleeps the given seconds (cancellable), then answers",
    inputSchema: { type: "object", properties: { seconds: { type: "number" }, label: { type: "string" } }, required: ["seconds"] },
    call: async (args, extra) => {
      await sleepUnless(Number(args.seconds ?? 0) * 1000, extra.signal);
      return { content: [text(`Computed ${args.label ?? "result"} after ${args.seconds} s`)] };
    },
  },
  {
    name: "failing_job",
    description: "Runs about a second, then reports a tool error",
    inputSchema: noArguments,
    call: async (_args, extra) => {
      await sleepUnless(1000, extra.signal);
      return { isError: true, content: [text("The job failed.")] };
    },
  },
  {
    name: "protocol_error_job",
    description: "Fails with a protocol error after a moment",
    inputSchema: noArguments,
    call: async (_args, extra) => {
      await sleepUnless(500, extra.signal);
      throw new McpError(ErrorCode.InternalError, "protocol_error_job failed inside the server");
    },
  },
  {
    name: "confirm_delete",
    description: "Asks to confirm (elicitation), then deletes the file or not",
    inputSchema: { type: "object", properties: { filename: { type: "string" } }, required: ["filename"] },
    call: async (args, extra) => {
      const answer = await asking(extra, "elicitation/create", askConfirm(`Delete ${args.filename}?`), ElicitResultSchema);
      return { content: [text(answer.action === "accept" && answer.content?.confirm !== false ? `Deleted ${args.filename}` : `Kept ${args.filename}`)] };
    },
  },
  {
    name: "multi_input",
    description: "Asks two things at once (two elicitations), then answers with both",
    inputSchema: noArguments,
    call: async (_args, extra) => {
      const [first, second] = await Promise.all([
        asking(extra, "elicitation/create", askName("What is your first name?"), ElicitResultSchema),
        asking(extra, "elicitation/create", askName("What is your last name?"), ElicitResultSchema),
      ]);
      return { content: [text(`Got ${first.content?.name ?? "?"} and ${second.content?.name ?? "?"}`)] };
    },
  },
  {
    name: "test_tool_with_task",
    description: "Asks the user's name (elicitation), then works a moment and greets them",
    inputSchema: noArguments,
    call: async (_args, extra) => {
      const answer = await asking(extra, "elicitation/create", askName("What is your name?"), ElicitResultSchema);
      await sleepUnless(500, extra.signal);
      return { content: [text(`Hello, ${answer.content?.name ?? "stranger"}! (from the task)`)] };
    },
  },
);

// ---------------------------------------------------------------------------------------------------------------------
// Resources and prompts.

const resources = [
  { uri: "test://static-text", name: "static-text", description: "A static text resource", mimeType: "text/plain", text: "This is the content of the static text resource." },
  { uri: "test://static-binary", name: "static-binary", description: "A static binary resource (PNG)", mimeType: "image/png", blob: PNG },
  { uri: "test://watched-resource", name: "watched-resource", description: "A resource to subscribe to", mimeType: "text/plain", text: "Watched resource content" },
];

const template = { uriTemplate: "test://template/{id}/data", name: "template-data", description: "Data for an id", mimeType: "application/json" };
const templatePattern = /^test:\/\/template\/([^/]+)\/data$/;

const prompts = [
  {
    name: "test_simple_prompt",
    description: "A prompt without arguments",
    get: () => [{ role: "user", content: text("This is a simple prompt for testing.") }],
  },
  {
    name: "test_prompt_with_arguments",
    description: "A prompt with two required arguments",
    arguments: [
      { name: "arg1", description: "First test argument", required: true },
      { name: "arg2", description: "Second test argument", required: true },
    ],
    get: (args) => [{ role: "user", content: text(`Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'`) }],
  },
  {
    name: "test_prompt_with_embedded_resource",
    description: "A prompt that embeds the resource it is given",
    arguments: [{ name: "resourceUri", description: "URI of the resource to embed", required: true }],
    get: (args) => [
      { role: "user", content: { type: "resource", resource: { uri: String(args.resourceUri), mimeType: "text/plain", text: "Embedded resource content for testing." } } },
      { role: "user", content: text("Please process the embedded resource above.") },
    ],
  },
  {
    // The 2026-07-28 suite's input-required-result-non-tool-request: a prompt that asks while it is written, as a
    // server of the session revisions asks (a request from server to client during prompts/get).
    name: "test_input_required_result_prompt",
    description: "Asks what context the prompt should use (elicitation), then writes it",
    get: async (_args, extra) => {
      const answer = await asking(extra, "elicitation/create", {
        message: "What context should the prompt use?",
        requestedSchema: { type: "object", properties: { context: { type: "string" } }, required: ["context"] },
      }, ElicitResultSchema);
      return [{ role: "user", content: text(`Use this context: ${answer.content?.context ?? "none"}`) }];
    },
  },
  {
    name: "test_prompt_with_image",
    description: "A prompt with an image",
    get: () => [
      { role: "user", content: { type: "image", data: PNG, mimeType: "image/png" } },
      { role: "user", content: text("Please analyze the image above.") },
    ],
  },
];

const completions = {
  arg1: ["paris", "park", "party", "test", "testing", "tested"],
  arg2: ["red", "green", "blue"],
  id: ["1", "42", "123"],
};

function complete(values, prefix) {
  const matching = (values ?? []).filter((v) => v.startsWith(prefix));
  return { completion: { values: matching, total: matching.length, hasMore: false } };
}

// ---------------------------------------------------------------------------------------------------------------------
// One SDK server (one session): its handlers.

function createServer() {
  const server = new Server(
    { name: "steward-conformance-upstream", title: "Steward's conformance upstream", version: "1.0.0" },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
      instructions: "The reference tools, resources and prompts of the MCP conformance suite's server scenarios.",
    },
  );
  const subscriptions = new Set();

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = tools.find((t) => t.name === request.params.name);
    if (!tool) {
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    }

    return tool.call(request.params.arguments ?? {}, extra, server);
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: resources.map(({ uri, name, description, mimeType }) => ({ uri, name, description, mimeType })),
  }));

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: [template] }));

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const uri = request.params.uri;
    const fixed = resources.find((r) => r.uri === uri);
    if (fixed) {
      return { contents: [fixed.blob !== undefined ? { uri, mimeType: fixed.mimeType, blob: fixed.blob } : { uri, mimeType: fixed.mimeType, text: fixed.text }] };
    }

    const match = templatePattern.exec(uri);
    if (match) {
      const id = decodeURIComponent(match[1]);
      return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] };
    }

    throw new McpError(-32002, `Resource not found: ${uri}`, { uri });
  });

  server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    subscriptions.add(request.params.uri);
    return {};
  });

  server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });

  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: prompts.map(({ name, description, arguments: args }) => (args ? { name, description, arguments: args } : { name, description })),
  }));

  server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
    const prompt = prompts.find((p) => p.name === request.params.name);
    if (!prompt) {
      throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
    }

    const args = request.params.arguments ?? {};
    const missing = (prompt.arguments ?? []).filter((a) => a.required && args[a.name] === undefined).map((a) => a.name);
    if (missing.length > 0) {
      throw new McpError(ErrorCode.InvalidParams, `Missing required arguments: ${missing.join(", ")}`);
    }

    return { description: prompt.description, messages: await prompt.get(args, extra) };
  });

  server.setRequestHandler(CompleteRequestSchema, async (request) => {
    const { ref, argument } = request.params;
    const known =
      (ref.type === "ref/prompt" && prompts.some((p) => p.name === ref.name && p.arguments?.some((a) => a.name === argument.name))) ||
      (ref.type === "ref/resource" && ref.uri === template.uriTemplate && argument.name === "id");
    return complete(known ? completions[argument.name] : [], argument.value ?? "");
  });

  return server;
}

// ---------------------------------------------------------------------------------------------------------------------
// Streamable HTTP: sessions, the event store, and the Host/Origin check.

/** Events kept in memory per stream, so that a client that lost a stream resumes it with Last-Event-ID. */
class MemoryEventStore {
  #streams = new Map(); // streamId -> [{ id, message }]
  #counter = 0;

  async storeEvent(streamId, message) {
    const id = `${streamId}.${++this.#counter}`;
    if (!this.#streams.has(streamId)) {
      this.#streams.set(streamId, []);
    }

    this.#streams.get(streamId).push({ id, message });
    return id;
  }

  async getStreamIdForEventId(eventId) {
    const streamId = eventId.slice(0, eventId.lastIndexOf("."));
    return this.#streams.has(streamId) ? streamId : undefined;
  }

  async replayEventsAfter(lastEventId, { send }) {
    const streamId = await this.getStreamIdForEventId(lastEventId);
    if (streamId === undefined) {
      throw new Error(`unknown event id ${lastEventId}`);
    }

    const events = this.#streams.get(streamId);
    const after = events.findIndex((e) => e.id === lastEventId);
    for (const event of events.slice(after + 1)) {
      // The priming events hold no message.
      if (Object.keys(event.message).length > 0) {
        await send(event.id, event.message);
      }
    }

    return streamId;
  }
}

const loopbackNames = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function hostName(hostHeader) {
  // "name:port", "[v6]:port" or a bare name.
  const value = hostHeader.trim().toLowerCase();
  if (value.startsWith("[")) {
    return value.slice(0, value.indexOf("]") + 1);
  }

  const colon = value.lastIndexOf(":");
  return colon < 0 ? value : value.slice(0, colon);
}

function jsonError(res, status, code, message) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 4 * 1024 * 1024) {
      throw new Error("request body over 4 MiB");
    }

    chunks.push(chunk);
  }

  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function serveHttp(port, allowedHosts) {
  const allowed = new Set([...loopbackNames, ...allowedHosts.map((h) => h.toLowerCase())]);
  const sessions = new Map(); // sessionId -> { transport, server }

  const httpServer = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (url.pathname !== "/mcp") {
        return jsonError(res, 404, -32000, "Not found: the MCP endpoint is /mcp");
      }

      // DNS rebinding: only loopback names (and the ones allowed on the command line) in Host and Origin.
      const origin = req.headers.origin;
      let originHost;
      try {
        originHost = origin === undefined ? undefined : new URL(origin).host;
      } catch {
        originHost = "";
      }

      if (!allowed.has(hostName(req.headers.host ?? "")) || (originHost !== undefined && !allowed.has(hostName(originHost)))) {
        log(`refused a request with Host ${req.headers.host} and Origin ${origin}`);
        return jsonError(res, 403, -32000, "Forbidden: the Host or Origin header is not a loopback name");
      }

      const sessionId = req.headers["mcp-session-id"];
      if (typeof sessionId === "string") {
        const session = sessions.get(sessionId);
        if (!session) {
          return jsonError(res, 404, -32001, "Session not found");
        }

        const body = req.method === "POST" ? await readJson(req) : undefined;
        return await session.transport.handleRequest(req, res, body);
      }

      if (req.method !== "POST") {
        return jsonError(res, 400, -32000, "Bad Request: no Mcp-Session-Id header");
      }

      const body = await readJson(req);
      if (!(Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body))) {
        return jsonError(res, 400, -32000, "Bad Request: no Mcp-Session-Id header, and not an initialize request");
      }

      const server = createServer();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new MemoryEventStore(),
        retryInterval: 500,
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server });
        },
        onsessionclosed: (id) => {
          sessions.delete(id);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId !== undefined) {
          sessions.delete(transport.sessionId);
        }
      };
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    } catch (error) {
      log(`request failed: ${error?.stack ?? error}`);
      if (!res.headersSent) {
        jsonError(res, error instanceof SyntaxError ? 400 : 500, error instanceof SyntaxError ? -32700 : -32603, String(error?.message ?? error));
      } else {
        res.end();
      }
    }
  });

  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, "127.0.0.1", resolve);
  });

  const stop = async () => {
    for (const { transport } of sessions.values()) {
      await transport.close().catch(() => {});
    }

    httpServer.closeAllConnections();
    httpServer.close(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  log(`listening on http://127.0.0.1:${httpServer.address().port}/mcp`);
}

async function serveStdio() {
  const server = createServer();
  const transport = new StdioServerTransport();
  transport.onclose = () => process.exit(0);
  await server.connect(transport);
  process.stdin.on("end", () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------------------------------

function usage(problem) {
  log(`${problem}\nusage: node conformance-server.mjs [--stdio] | --http <port> [--allow-host <name>]...`);
  process.exit(2);
}

const argv = process.argv.slice(2);
let mode = "stdio";
let port;
const allowHosts = [];
for (let i = 0; i < argv.length; i++) {
  switch (argv[i]) {
    case "--stdio":
      mode = "stdio";
      break;
    case "--http":
      mode = "http";
      port = Number.parseInt(argv[++i] ?? "", 10);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        usage("--http needs a port (0 for any free one)");
      }

      break;
    case "--allow-host":
      if (argv[i + 1] === undefined) {
        usage("--allow-host needs a host name");
      }

      allowHosts.push(argv[++i]);
      break;
    default:
      usage(`unknown argument ${argv[i]}`);
  }
}

if (mode === "http") {
  await serveHttp(port, allowHosts);
} else {
  await serveStdio();
}
