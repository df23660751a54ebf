/**
 * Self-hosted edgegen: the same Hono app as the Worker, on Node.
 *   npm run serve:node            (PORT=8788, MODELS=models, HOST=127.0.0.1)
 */
import { serveNode } from './serve';

const port = Number(process.env.PORT ?? 8788);
const hostname = process.env.HOST ?? '127.0.0.1';
const models = process.env.MODELS ?? 'models';

const { port: bound } = await serveNode({ models, port, hostname });
console.log(`edgegen (node) on http://${hostname}:${bound}, models from ${models}/ (API reference at /docs)`);
