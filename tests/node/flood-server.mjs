// A stdio MCP server for the gateway's bounds tests: answers of any size, in both member orders JSON-RPC libraries
// write (id first, as the C# SDK does; id last, as the TypeScript SDK does), and bursts of notifications.
// Line-delimited JSON-RPC by hand, no dependency; only Node's own modules.
import readline from "node:readline";

const tools = [
  { name: "echo", description: "Echo a message", inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] } },
  { name: "big", description: "A text answer of `kib` KiB; `tail`: id written last", inputSchema: { type: "object", properties: { kib: { type: "number" }, tail: { type: "boolean" } }, required: ["kib"] } },
  { name: "flood", description: "Send `count` log notifications, then answer", inputSchema: { type: "object", properties: { count: { type: "number" } }, required: ["count"] } },
];

const send = (text) => new Promise((resolve) => { if (process.stdout.write(text + "\n")) resolve(); else process.stdout.once("drain", resolve); });
const answer = (id, result, tail) => send(tail ? JSON.stringify({ result, jsonrpc: "2.0", id }) : JSON.stringify({ jsonrpc: "2.0", id, result }));

async function call(id, name, args) {
  switch (name) {
    case "echo":
      return answer(id, { content: [{ type: "text", text: "Echo: " + args.message }] });
    case "big":
      return answer(id, { content: [{ type: "text", text: "x".repeat(Math.round(args.kib * 1024)) }] }, args.tail === true);
    case "flood":
      for (let i = 0; i < args.count; i++) {
        await send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", logger: "flood", data: "notification " + i } }));
      }
      return answer(id, { content: [{ type: "text", text: "sent " + args.count } ] });
    default:
      return send(JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32602, message: "Unknown tool: " + name } }));
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const message = JSON.parse(line);
  if (message.id === undefined) return;
  switch (message.method) {
    case "initialize":
      return answer(message.id, { protocolVersion: message.params.protocolVersion, capabilities: { tools: {}, logging: {} }, serverInfo: { name: "flood", version: "1.0.0" } });
    case "tools/list":
      return answer(message.id, { tools });
    case "tools/call":
      return call(message.id, message.params.name, message.params.arguments ?? {});
    case "logging/setLevel":
    case "ping":
      return answer(message.id, {});
    default:
      return send(JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found: " + message.method } }));
  }
});
lines.on("close", () => process.exit(0));
