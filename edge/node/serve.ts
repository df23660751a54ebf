/**
 * The Node adapter's HTTP server: @hono/node-server plus the answers Node's
 * HTTP parser gives before the app sees a request (a malformed content-length,
 * a URL or headers over Node's 16 KiB limit), in the API's error shape instead
 * of Node's bare 400 and empty 431.
 */
import type { Socket } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { ApiError, ErrorCode } from '../../core/api';
import { createApp, type AppOptions } from '../app';
import type { Runtime } from '../engine';
import { nodeDocsFile } from './docs';
import { nodeRuntime, writeJsonOnThread, type NodeRuntimeOptions } from './runtime';

const REASON: Record<number, string> = { 400: 'Bad Request', 431: 'Request Header Fields Too Large' };

/** What Node's parser refused, as a complete HTTP/1.1 answer with a JSON error body. */
export function clientErrorAnswer(err: NodeJS.ErrnoException): string {
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const code: ErrorCode = tooLarge ? 'headers_too_large' : 'bad_request';
  const message = tooLarge
    ? "the request line and headers are over Node's limit (16 KiB unless --max-http-header-size says otherwise); shorten the URL or headers"
    : `malformed HTTP request (${err.code ?? 'parse error'}): ${err.message.replace(/[\r\n]+/g, ' ')}`;
  const body: ApiError = { error: { code, message } };
  const text = JSON.stringify(body);
  return [
    `HTTP/1.1 ${status} ${REASON[status]}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(text)}`,
    'access-control-allow-origin: *',
    'connection: close',
    '',
    text,
  ].join('\r\n');
}

export interface NodeServerOptions extends Partial<AppOptions> {
  models: string;
  port: number;
  hostname?: string;
  /** the runtime's options (node/runtime.ts): onnxruntime on threads, its arena */
  runtime?: NodeRuntimeOptions;
}

/**
 * The app as the Node server runs it: the Node runtime, the API reference's
 * files from node_modules, and large JSON answers on a thread of their own
 * (SERVING.md, "Node").
 */
export function nodeApp(models: string, opts: Partial<AppOptions> & { runtime?: NodeRuntimeOptions } = {}) {
  const { runtime: runtimeOptions, ...appOptions } = opts;
  const runtime = nodeRuntime(models, runtimeOptions);
  const app = createApp(runtime, { docsFile: nodeDocsFile, writeJson: writeJsonOnThread, ...appOptions });
  return { app, runtime };
}

/** Serve the app on Node; resolves with the server once it listens, and its port. */
export function serveNode(opts: NodeServerOptions): Promise<{ server: ServerType; port: number; runtime: Runtime }> {
  const { models, port, hostname = '127.0.0.1', ...appOptions } = opts;
  const { app, runtime } = nodeApp(models, appOptions);
  return new Promise((ok) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info) => ok({ server, port: info.port, runtime }));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
      socket.end(clientErrorAnswer(err));
    });
  });
}
