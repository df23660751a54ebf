/**
 * Test support for the edge suites: a temp copy of the models with one
 * deliberately corrupted model added, free loopback ports, and a real workerd
 * under `wrangler dev` started and stopped by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Manifest, ModelIndex } from '../core/manifest';
import type { ServeOptions } from './engine';

export const ROOT = resolve(import.meta.dirname, '..');
export const MODELS = join(ROOT, 'models');

export interface Target {
  runtime: 'node' | 'workerd';
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * Copy models/ to a temp folder and add `<flow id>-corrupt`: the same files as
 * a shipped flow, with one byte of its sample.onnx flipped, so its sha256 no
 * longer matches the manifest. The originals are never touched; `remove()`
 * deletes the copy (about the size of models/: call it when the suite ends).
 */
export function modelsWithCorruptCopy(): { dir: string; corruptId: string; sourceId: string; remove(): void } {
  const dir = join(mkdtempSync(join(tmpdir(), 'edgegen-models-')), 'models');
  cpSync(MODELS, dir, { recursive: true });
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as ModelIndex;
  const source = index.models.find((m) => m.family === 'flow') ?? index.models[0];
  const corruptId = `${source.id}-corrupt`;
  cpSync(join(dir, source.id), join(dir, corruptId), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, corruptId, 'manifest.json'), 'utf8')) as Manifest;
  manifest.id = corruptId;
  writeFileSync(join(dir, corruptId, 'manifest.json'), JSON.stringify(manifest));
  const file = join(dir, corruptId, manifest.files.find((f) => f.capability === 'sample')!.file);
  const bytes = readFileSync(file);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(file, bytes);
  index.models.push({ ...source, id: corruptId });
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return { dir, corruptId, sourceId: source.id, remove: () => rmSync(dirname(dir), { recursive: true, force: true }) };
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
  });
}

/**
 * A Worker entry with the engine's bounds set to `serve` (worker/index.ts
 * `worker(serve)`), written under .wrangler/ (ignored by git; inside the
 * project, so wrangler.toml's module rules match the wasm it imports): pass its
 * path as one of startWrangler's extra arguments, in place of wrangler.toml's
 * `main`.
 */
export function workerEntry(serve: Partial<ServeOptions>): string {
  mkdirSync(join(ROOT, '.wrangler'), { recursive: true });
  const file = join(mkdtempSync(join(ROOT, '.wrangler', 'entry-')), 'entry.ts');
  writeFileSync(file, `import { worker } from ${JSON.stringify(join(ROOT, 'edge/worker/index.ts'))};\nexport default worker(${JSON.stringify(serve)});\n`);
  return file;
}

export interface Wrangler {
  url: string;
  /** ms from spawning wrangler to the first answered request */
  readyMs: number;
  stop(): Promise<void>;
  log(): string;
  /**
   * fetch(url + path), given up after WRANGLER_ANSWER_MS with the end of
   * wrangler's log in the error: a request that never answers would otherwise
   * surface only as the test's timeout, with nothing to say where it stopped.
   * A body that stalls after the headers fails by the same signal (an
   * AbortError, without the log). The caller's own signal, if any, still aborts.
   */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** How long Wrangler.fetch gives a request to be answered, headers and body, before aborting it. */
export const WRANGLER_ANSWER_MS = 90_000;

/**
 * Start `wrangler dev` serving `assets` on a free loopback port; resolves once
 * `readyPath` answers (a static file there leaves the Worker's isolate untouched).
 */
export async function startWrangler(assets: string, timeoutMs = 90_000, extraArgs: string[] = [], readyPath = '/healthz'): Promise<Wrangler> {
  const port = await freePort();
  const inspector = await freePort();
  const started = Date.now();
  const args = [
    join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
    'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
    '--assets', assets, '--log-level', 'warn', '--show-interactive-dev-session=false', ...extraArgs,
  ];
  let output = '';
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true, // its own process group, so stop() also ends the workerd it spawns
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((ok) => child.once('exit', ok));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
    if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  };
  const answered = async (path: string, init?: RequestInit): Promise<Response> => {
    const limit = AbortSignal.timeout(WRANGLER_ANSWER_MS);
    try {
      return await fetch(url + path, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, limit]) : limit });
    } catch (err) {
      if (!limit.aborted) throw err;
      throw new Error(`no answer from wrangler dev in ${WRANGLER_ANSWER_MS / 1000} s: ${init?.method ?? 'GET'} ${path.slice(0, 200)}; the end of its log:\n${output.slice(-4000)}`);
    }
  };
  while (Date.now() - started < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      const res = await fetch(url + readyPath);
      if (res.ok) return { url, readyMs: Date.now() - started, stop, log: () => output, fetch: answered };
    } catch {
      /* not listening yet */
    }
    await new Promise((ok) => setTimeout(ok, 250));
  }
  await stop();
  throw new Error(`wrangler dev did not answer within ${timeoutMs} ms:\n${output}`);
}
