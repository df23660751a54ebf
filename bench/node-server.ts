/**
 * The Node server as a benchmark starts it: edge/node's serveNode with the
 * options in the first argument (JSON: { serve?: engine bounds, runtime?:
 * { arena?, ortThread? }, jsonThread?: false to write every JSON answer on
 * the main thread }), on PORT with models from MODELS. The engine's and
 * the runtime's bounds are constructor options, never environment settings,
 * so a benchmark that compares them (bench/peer.ts without batching,
 * bench/memory.ts) names them here.
 *
 *   npx tsx bench/node-server.ts '{"serve":{"batchMaxRows":1}}'
 */
import type { ServeOptions } from '../edge/engine';
import { serveNode } from '../edge/node/serve';
import type { NodeRuntimeOptions } from '../edge/node/runtime';

const options = JSON.parse(process.argv[2] ?? '{}') as { serve?: Partial<ServeOptions>; runtime?: NodeRuntimeOptions; jsonThread?: boolean };
const hostname = '127.0.0.1';
const { jsonThread = true, ...rest } = options;
// jsonThread false: every JSON answer written in line, on the main thread (no writeJson)
const { port } = await serveNode({ models: process.env.MODELS ?? 'models', port: Number(process.env.PORT ?? 8788), hostname, ...rest, ...(jsonThread ? {} : { writeJson: undefined }) });
console.log(`edgegen (node, bench) on http://${hostname}:${port} with ${JSON.stringify(options)}`);
