// Preloaded (`node --import ./conformance-bearer.mjs`) into the MCP conformance suite's process, so that it can test a
// server that requires `Authorization: Bearer <token>` (Steward's `gateway --http`): the suite itself has no option
// for a header in server mode. It does not change the suite: it installs a global HTTP dispatcher that adds the one
// header a real host would send, `Authorization: Bearer $STEWARD_CONFORMANCE_TOKEN`, to every request whose origin is
// $STEWARD_CONFORMANCE_ORIGIN (e.g. http://127.0.0.1:5123), and leaves every other request and header as it is.
// Node's own fetch (used by the MCP SDK's client transport and by the scenarios) and the suite's undici `request` both
// go through the global dispatcher.
import { createRequire } from 'node:module';

const token = process.env.STEWARD_CONFORMANCE_TOKEN;
const origin = process.env.STEWARD_CONFORMANCE_ORIGIN;
if (!token || !origin) {
  throw new Error('conformance-bearer.mjs needs STEWARD_CONFORMANCE_TOKEN and STEWARD_CONFORMANCE_ORIGIN');
}

// The undici the suite itself imports (so both share one dispatcher API version); STEWARD_CONFORMANCE_PACKAGE names
// the suite's package folder when it is not `conformance` (the 2026-07-28 suite is `conformance-2026`).
const require = createRequire(new URL(`./node_modules/@modelcontextprotocol/${process.env.STEWARD_CONFORMANCE_PACKAGE ?? 'conformance'}/package.json`, import.meta.url));
const { Agent, setGlobalDispatcher } = require('undici');
const wanted = new URL(origin).origin;
const value = `Bearer ${token}`;

function withAuthorization(headers) {
  if (headers == null) {
    return { authorization: value };
  }

  if (Array.isArray(headers)) {
    // Flat [name, value, name, value, ...] (or [[name, value], ...]); replace any Authorization the caller set.
    const pairs = Array.isArray(headers[0]) ? headers.flat() : [...headers];
    const kept = [];
    for (let i = 0; i < pairs.length; i += 2) {
      if (String(pairs[i]).toLowerCase() !== 'authorization') {
        kept.push(pairs[i], pairs[i + 1]);
      }
    }

    return [...kept, 'authorization', value];
  }

  const entries = typeof headers[Symbol.iterator] === 'function' && typeof headers.entries === 'function'
    ? [...headers.entries()]
    : Object.entries(headers);
  const copy = {};
  for (const [name, v] of entries) {
    if (name.toLowerCase() !== 'authorization') {
      copy[name] = v;
    }
  }

  copy.authorization = value;
  return copy;
}

setGlobalDispatcher(new Agent().compose((dispatch) => (options, handler) => {
  const target = options.origin == null ? null : new URL(String(options.origin)).origin;
  return dispatch(target === wanted ? { ...options, headers: withAuthorization(options.headers) } : options, handler);
}));
