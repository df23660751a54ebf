/**
 * The site the web tests drive: dist/web as static files, the models, and the
 * edge app (Node adapter) for /v1 and /healthz, on one free loopback port,
 * the way the Worker serves them in production.
 *
 * Models: the exported ones in models/ when present; any family / data kind
 * missing there is filled with small random-weight models built by export/'s
 * graph writer (ids `fixture-*`), so the page is tested against the artifact
 * contract before (and whatever) models have been trained.
 */
import { createHash } from 'node:crypto';
import { chromium, type BrowserContext } from 'playwright-core';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Manifest, ModelIndex } from '../../core/manifest';
import type { ModelSpec } from '../../core/spec';
import { buildGraphs } from '../../export/graphs';
import { defaultSpec, FAMILY_ORDER, familyOf, latentDimOf } from '../../core/families';
import { randomWeights, tinySpecs } from '../../export/testing/fixtures';
import { calibrate } from '../../export/calibrate';
import { createApp } from '../../edge/app';
import { nodeRuntime } from '../../edge/node';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const WEB_DIR = join(ROOT, 'dist', 'web');

function writeModel(dir: string, id: string, dataset: string, spec: ModelSpec, seed: number): ModelIndex['models'][number] {
  const graphs = buildGraphs(spec, randomWeights(spec, seed, 0.3));
  mkdirSync(join(dir, id), { recursive: true });
  const files = graphs.map((g) => {
    const bytes = g.builder.toBytes(`${id} ${g.capability} (test fixture)`);
    const file = `${g.capability}.onnx`;
    writeFileSync(join(dir, id, file), bytes);
    return { capability: g.capability, file, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
  const image = spec.shape.length === 2;
  const manifest: Manifest = {
    id, family: spec.family, model: spec.model, dataset, shape: spec.shape,
    range: image ? [0, 256] : [-2, 2], discrete: image,
    latentDim: latentDimOf(spec),
    capabilities: files.map((f) => f.capability),
    density: familyOf(spec.family).density,
    unavailable: familyOf(spec.family).unavailable,
    opset: 13, files,
    training: { steps: 0, backend: 'none', seconds: 0, batchSize: 0, seed, command: 'test fixture: random weights' },
    metrics: {}, parameters: 0, description: `random-weight ${spec.model} fixture`,
    ...(spec.conditional ? { classes: spec.conditional } : {}),
  };
  writeFileSync(join(dir, id, 'manifest.json'), JSON.stringify(manifest, null, 2));
  const { id: _i, family, model, shape, capabilities, density, description, classes } = manifest;
  return { id, family, model, dataset, shape, capabilities, density, description, ...(classes ? { classes } : {}) };
}

/** A models folder: models/ copied when present, plus fixtures for what it lacks. */
export function prepareModels(): { dir: string; index: ModelIndex } {
  const dir = mkdtempSync(join(tmpdir(), 'edgegen-web-models-'));
  const real = join(ROOT, 'models', 'index.json');
  const index: ModelIndex = existsSync(real) ? JSON.parse(readFileSync(real, 'utf8')) : { models: [] };
  if (existsSync(real)) cpSync(join(ROOT, 'models'), dir, { recursive: true });
  const has = (pred: (m: ModelIndex['models'][number]) => boolean) => index.models.some(pred);
  // one 2-D model of each family (core's tiny defaults, random weights), so every family is exercised whatever has been trained
  FAMILY_ORDER.forEach((family, i) => {
    if (has((m) => m.shape.length === 1 && m.family === family)) return;
    const spec = defaultSpec(family, undefined, [2], { size: 'tiny', shift: [0.5, 0.25], scale: [0.9, 0.5] });
    index.models.push(writeModel(dir, `fixture-${spec.model}-2d`, 'fixture-2d', spec, 11 + i));
  });
  if (!has((m) => m.shape.length === 2 && m.capabilities.includes('density'))) {
    const img = tinySpecs([28, 28], { kind: 'logit', alpha: 0.05 });
    index.models.push(
      writeModel(dir, 'fixture-realnvp-mnist', 'mnist', img.realnvp, 21),
      writeModel(dir, 'fixture-vae-mnist', 'mnist', img.vae, 22),
    );
  }
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index, null, 2));
  return { dir, index };
}

/**
 * Add a tiny conv model (DCGAN: Conv/ConvTranspose, random weights) to a
 * models folder: no conv model ships yet, and the page must decide per model
 * whether WebGPU can run such a graph. Returns its id.
 */
export function addConvFixture(models: { dir: string; index: ModelIndex }): string {
  const spec = defaultSpec('gan', 'dcgan', [28, 28], { arch: 'conv', size: 'tiny' });
  const id = 'fixture-dcgan-mnist';
  models.index.models.push(writeModel(models.dir, id, 'mnist', spec, 31));
  writeFileSync(join(models.dir, 'index.json'), JSON.stringify(models.index, null, 2));
  return id;
}

/**
 * Add a class-conditional MNIST flow (tiny RealNVP, random weights, a
 * Gaussian base per class) calibrated the way the export calibrates (held-out
 * MNIST rows: anomaly quantiles and the classifier's confidence threshold), so
 * score and classify can be compared wherever such a model has not shipped.
 * Returns its id.
 */
export async function addClassifierFixture(models: { dir: string; index: ModelIndex }): Promise<string> {
  const names = Array.from({ length: 10 }, (_, i) => String(i));
  const spec: ModelSpec = { ...tinySpecs([28, 28], { kind: 'logit', alpha: 0.05 }).realnvp, conditional: { names, prior: names.map(() => 0.1) } };
  const id = 'fixture-realnvp-cond-mnist';
  models.index.models.push(writeModel(models.dir, id, 'mnist', spec, 41));
  writeFileSync(join(models.dir, 'index.json'), JSON.stringify(models.index, null, 2));
  const file = join(models.dir, id, 'manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  const calibration = await calibrate(manifest, readFileSync(join(models.dir, id, 'density.onnx')));
  if (typeof calibration === 'string') throw new Error(`cannot calibrate ${id}: ${calibration}`);
  writeFileSync(file, JSON.stringify({ ...manifest, calibration }, null, 2));
  return id;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
};

export interface Site {
  url: string; modelsDir: string; index: ModelIndex; requests: string[];
  /** API calls as `METHOD /path?query content-type` */
  apiCalls: string[];
  close(): Promise<void>;
}

/** Starts the site on 127.0.0.1:<free port>. `api: false` serves static files only (a plain static host). */
export async function startSite(opts: { api: boolean; models?: { dir: string; index: ModelIndex }; webDir?: string }): Promise<Site> {
  const webRoot = opts.webDir ?? WEB_DIR;
  const { dir, index } = opts.models ?? prepareModels();
  const app = opts.api ? createApp(nodeRuntime(dir)) : null;
  const requests: string[] = [];
  const apiCalls: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(path);
    try {
      if (app && (path.startsWith('/v1/') || path === '/healthz')) {
        apiCalls.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? ''}`.trim());
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const r = await app.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body }));
        res.writeHead(r.status, Object.fromEntries(r.headers));
        res.end(Buffer.from(await r.arrayBuffer()));
        return;
      }
      const base = path.startsWith('/models/') ? dir : webRoot;
      const rel = normalize(path.startsWith('/models/') ? path.slice('/models/'.length) : path.slice(1) || 'index.html');
      const file = join(base, rel);
      if (!file.startsWith(base) || !existsSync(file)) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const bytes = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': bytes.byteLength });
      res.end(bytes);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`, modelsDir: dir, index, requests, apiCalls,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The system Chromium, headless, in a fresh profile that close() deletes; `webgpu` enables its (SwiftShader) WebGPU. */
export async function launchChromium(opts: { webgpu?: boolean; viewport?: { width: number; height: number } } = {}): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'edgegen-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: opts.webgpu ? [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'] : CHROMIUM_ARGS,
    ...(opts.viewport ? { viewport: opts.viewport } : {}),
  });
  return { browser, close: async () => { await browser.close(); rmSync(profile, { recursive: true, force: true }); } };
}
