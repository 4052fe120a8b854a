// A stdio MCP server for the sandbox tests: tools that try what a sandbox must refuse or allow (read a file, write a
// file, connect to a TCP port directly or through the HTTP proxy named by HTTPS_PROXY) and report what happened as
// text. Line-delimited JSON-RPC by hand, no dependency; only Node's own modules.
import fs from "node:fs";
import net from "node:net";
import readline from "node:readline";

const tools = [
  { name: "read_file", description: "Read a file", inputSchema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] } },
  { name: "write_file", description: "Write a file", inputSchema: { type: "object", properties: { path: { type: "string" }, text: { type: "string" } }, required: ["path"] } },
  { name: "connect", description: "Open a TCP connection, send ping, return the first line received", inputSchema: { type: "object", properties: { host: { type: "string" }, port: { type: "number" }, proxy: { type: "boolean" } }, required: ["host", "port"] } },
  { name: "whoami", description: "Process facts", inputSchema: { type: "object", properties: {} } },
];

function ping(socket, done) {
  let buffer = "";
  socket.on("data", (d) => {
    buffer += d.toString("utf8");
    if (buffer.includes("\n")) {
      done("ok: " + buffer.split("\n")[0]);
      socket.destroy();
    }
  });
  socket.write("ping\n");
}

function connect(host, port, viaProxy) {
  return new Promise((resolve) => {
    const finish = (text) => { clearTimeout(timer); resolve(text); };
    const timer = setTimeout(() => resolve("refused: timeout"), 8000);
    if (!viaProxy) {
      const socket = net.connect({ host, port }, () => ping(socket, finish));
      socket.on("error", (e) => finish("refused: " + e.code));
      return;
    }
    const proxy = new URL(process.env.HTTPS_PROXY || "http://127.0.0.1:9");
    const socket = net.connect({ host: proxy.hostname, port: Number(proxy.port) }, () => {
      socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
    });
    let head = "";
    const onData = (d) => {
      head += d.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const status = head.split(" ")[1];
      if (status !== "200") {
        const length = Number(/content-length: *(\d+)/i.exec(head.slice(0, end))?.[1] ?? 0);
        const body = () => head.slice(end + 4);
        const report = () => { finish(`refused: proxy ${status} ${body().trim()}`); socket.destroy(); };
        if (Buffer.byteLength(body(), "latin1") >= length) { report(); return; }
        socket.on("data", (more) => { head += more.toString("latin1"); if (Buffer.byteLength(body(), "latin1") >= length) report(); });
        socket.on("end", report);
        return;
      }
      ping(socket, finish);
    };
    socket.on("data", onData);
    socket.on("error", (e) => finish("refused: " + e.code));
  });
}

async function call(name, args) {
  switch (name) {
    case "read_file":
      try { return "ok: " + fs.readFileSync(args.path, "utf8"); } catch (e) { return "refused: " + e.code; }
    case "write_file":
      try { fs.writeFileSync(args.path, args.text ?? "x"); return "ok"; } catch (e) { return "refused: " + e.code; }
    case "connect":
      return await connect(args.host, args.port, !!args.proxy);
    case "whoami":
      return JSON.stringify({ pid: process.pid, uid: process.getuid?.(), home: process.env.HOME, tmp: process.env.TMPDIR ?? null, proxy: process.env.HTTPS_PROXY ?? null });
    default:
      return null;
  }
}

const out = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let message;
  try { message = JSON.parse(line); } catch { return; }
  const { id, method, params } = message;
  if (id === undefined) return;
  if (method === "initialize") {
    out({ jsonrpc: "2.0", id, result: { protocolVersion: params?.protocolVersion ?? "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "sandbox-probe", version: "1.0.0" } } });
  } else if (method === "tools/list") {
    out({ jsonrpc: "2.0", id, result: { tools } });
  } else if (method === "tools/call") {
    const text = await call(params.name, params.arguments ?? {});
    if (text === null) out({ jsonrpc: "2.0", id, error: { code: -32602, message: "unknown tool " + params.name } });
    else out({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } });
  } else if (method === "ping") {
    out({ jsonrpc: "2.0", id, result: {} });
  } else {
    out({ jsonrpc: "2.0", id, error: { code: -32601, message: "method not found: " + method } });
  }
});
