// A real MCP server of revision 2026-07-28 over stdio, on the TypeScript SDK 2.x (@modelcontextprotocol/server):
// the gateway's tests use it as an upstream that speaks the stateless revision. With --modern-only it refuses the
// 2025 revisions' initialize (as a server written for 2026-07-28 alone does), as with MODERN_ONLY=1 in its environment;
// without, it serves both eras.
//
// Tools: echo; confirm, which asks its client through an input_required round (a form elicitation keyed "confirm");
// add_tool, which registers the tool "late" and so changes the tool list (sent to subscriptions/listen streams).
// The prompt confirm_prompt and the resource steward://confirm ask the same question before they answer.
// The resource steward://watched can be subscribed to; the tool touch changes it (notifications/resources/updated).
import { McpServer, acceptedContent, inputRequired } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

const modernOnly = process.argv.includes('--modern-only') || process.env.MODERN_ONLY === '1';

function create() {
    const server = new McpServer({ name: 'steward-modern-upstream', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true } } });
    server.registerTool('echo', { description: 'Echoes its message', inputSchema: z.object({ message: z.string() }) },
        async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }));

    const confirmation = z.object({ confirm: z.boolean() });
    server.registerTool('confirm', { description: 'Asks before it acts', inputSchema: z.object({ action: z.string() }) }, async ({ action }, ctx) => {
        const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', confirmation);
        if (answer === undefined) {
            return inputRequired({ inputRequests: { confirm: inputRequired.elicit({ message: `Go ahead with ${action}?`, requestedSchema: confirmation }) } });
        }
        return { content: [{ type: 'text', text: answer.confirm ? `confirmed: ${action}` : `declined: ${action}` }] };
    });

    const ask = (responses, what) => acceptedContent(responses, 'confirm', confirmation) ?? inputRequired({
        inputRequests: { confirm: inputRequired.elicit({ message: `Go ahead with ${what}?`, requestedSchema: confirmation }) },
    });
    server.registerPrompt('confirm_prompt', { description: 'Asks before it is written', argsSchema: z.object({ topic: z.string() }) }, async ({ topic }, ctx) => {
        const answer = ask(ctx.mcpReq.inputResponses, `the prompt about ${topic}`);
        if (answer.resultType === 'input_required') {
            return answer;
        }
        return { messages: [{ role: 'user', content: { type: 'text', text: answer.confirm ? `prompt: ${topic}` : `declined: ${topic}` } }] };
    });
    server.registerResource('confirm_resource', 'steward://confirm', { description: 'Asks before it is read', mimeType: 'text/plain' }, async (uri, ctx) => {
        const answer = ask(ctx.mcpReq.inputResponses, 'reading it');
        if (answer.resultType === 'input_required') {
            return answer;
        }
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: answer.confirm ? 'read: confirmed' : 'read: declined' }] };
    });

    let touches = 0;
    server.registerResource('watched', 'steward://watched', { description: 'Changes when touch is called', mimeType: 'text/plain' },
        async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: `touched ${touches} times` }] }));
    server.registerTool('touch', { description: 'Changes steward://watched', inputSchema: z.object({}) }, async () => {
        touches++;
        await server.server.sendResourceUpdated({ uri: 'steward://watched' });
        return { content: [{ type: 'text', text: 'touched' }] };
    });

    server.registerTool('add_tool', { description: 'Adds the tool "late"', inputSchema: z.object({}) }, async () => {
        server.registerTool('late', { description: 'Added at run time', inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: 'late' }] }));
        return { content: [{ type: 'text', text: 'added' }] };
    });
    return server;
}

serveStdio(() => create(), { legacy: modernOnly ? 'reject' : 'serve' });
