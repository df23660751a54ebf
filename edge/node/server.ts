/**
 * Self-hosted edgegen: the same Hono app as the Worker, on Node.
 *   npm run serve:node            (PORT=8788, MODELS=models, HOST=127.0.0.1)
 */
import { serve } from '@hono/node-server';
import { createApp } from '../app';
import { nodeRuntime } from './runtime';

const port = Number(process.env.PORT ?? 8788);
const hostname = process.env.HOST ?? '127.0.0.1';
const models = process.env.MODELS ?? 'models';

const app = createApp(nodeRuntime(models));
serve({ fetch: app.fetch, port, hostname }, (info) => {
  console.log(`edgegen (node) on http://${info.address}:${info.port}, models from ${models}/`);
});
