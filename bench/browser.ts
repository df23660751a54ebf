/**
 * Browser section: the sample graph of each shipped model in headless Chromium
 * (playwright-core, /usr/bin/chromium), onnxruntime-web's WebGPU execution
 * provider (JSPI build, as web/ ships it) vs its wasm provider (one thread),
 * n = 1, 64, 256. A bare page on a loopback server loads onnxruntime-web from
 * node_modules/onnxruntime-web/dist and the models from models/. WebGPU there
 * is SwiftShader, a CPU implementation: the figures say nothing about a GPU.
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';
import { dim, fmt, log, MODELS_DIR, ROOT, shipped, table, type BenchOptions } from './common';
import { samplePasses, takesObservationNoise } from '../core/protocol';

const ORT_DIST = join(ROOT, 'node_modules/onnxruntime-web/dist');
const PAGE = `<!doctype html><meta charset="utf-8"><title>edgegen bench</title><body><script type="module">
const ep = new URLSearchParams(location.search).get('ep');
const ort = await import(ep === 'webgpu' ? '/ort/ort.jspi.min.mjs' : '/ort/ort.wasm.min.mjs');
ort.env.wasm.numThreads = 1;
let adapter = 'none';
if (ep === 'webgpu' && navigator.gpu) {
  const a = await navigator.gpu.requestAdapter();
  const i = a && a.info ? a.info : {};
  adapter = a ? [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'adapter without info' : 'no adapter';
}
const normals = (k) => {
  const a = new Float32Array(k);
  for (let i = 0; i < k; i++) a[i] = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return a;
};
globalThis.benchRun = async (j) => {
  const bytes = new Uint8Array(await (await fetch(j.url)).arrayBuffer());
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [j.ep] });
  const out = [];
  for (const n of j.ns) {
    const once = async () => {
      const feeds = { z: new ort.Tensor('float32', normals(n * j.latent), [n, j.latent]) };
      if (j.vae) feeds.noise = new ort.Tensor('float32', normals(n * j.D), [n, j.D]);
      const r = await session.run(feeds);
      await r.x.getData();
    };
    for (let i = 0; i < j.warm; i++) await once();
    const ms = [];
    const t0 = performance.now();
    while (ms.length < j.maxReps && (ms.length < j.minReps || performance.now() - t0 < j.budgetMs)) {
      const t = performance.now();
      await once();
      ms.push(performance.now() - t);
    }
    const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
    ms.sort((a, b) => a - b);
    out.push({ n, p50: ms[Math.floor(ms.length / 2)], p95: ms[Math.min(ms.length - 1, Math.floor(0.95 * ms.length))], rate: (n * 1000) / mean, reps: ms.length });
  }
  await session.release();
  return out;
};
globalThis.benchAdapter = adapter;
document.body.dataset.ready = 'true';
</script></body>`;
const TYPES: Record<string, string> = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream', '.json': 'application/json' };

function serve(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    const [base, rel] = path.startsWith('/ort/') ? [ORT_DIST, path.slice(5)] : path.startsWith('/models/') ? [MODELS_DIR, path.slice(8)] : ['', ''];
    const file = base && join(base, normalize(rel));
    if (!file || !file.startsWith(base) || !existsSync(file)) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server })));
}

interface Job { url: string; latent: number; D: number; vae: boolean; ns: number[]; warm: number; minReps: number; maxReps: number; budgetMs: number; ep: string }
type Result = { n: number; p50: number; p95: number; rate: number; reps: number }[];

export async function browser(opts: BenchOptions): Promise<string> {
  const models = shipped();
  const { url, server } = await serve();
  const profile = mkdtempSync(join(tmpdir(), 'edgegen-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const results = new Map<string, Result>();
  const adapters: string[] = [];
  const errors: string[] = [];
  try {
    for (const ep of ['wasm', 'webgpu']) {
      const page = await ctx.newPage();
      await page.goto(`${url}?ep=${ep}`);
      await page.waitForSelector('body[data-ready=true]', { state: 'attached', timeout: 60_000 });
      if (ep === 'webgpu') adapters.push(await page.evaluate(() => (globalThis as unknown as { benchAdapter: string }).benchAdapter));
      for (const m of models) {
        // the page-side loop times one run of the sample graph; MADE needs D of them (bench:serve times those)
        if (samplePasses(m) > 1) continue;
        const file = m.files.find((f) => f.capability === 'sample')!.file;
        const job: Job = {
          url: `${url}models/${m.id}/${file}`, latent: m.latentDim, D: dim(m), vae: takesObservationNoise(m), ns: [1, 64, 256], ep,
          ...(opts.quick ? { warm: 1, minReps: 3, maxReps: 5, budgetMs: 500 } : { warm: 3, minReps: 8, maxReps: 40, budgetMs: 3000 }),
        };
        try {
          // the loop lives in the page's own script: functions compiled by tsx carry helpers the page lacks
          const r = await page.evaluate((j: Job) => (globalThis as unknown as { benchRun(j: Job): Promise<Result> }).benchRun(j), job);
          results.set(`${ep}|${m.id}`, r);
        } catch (e) {
          errors.push(`${ep} ${m.id}: ${(e as Error).message.split('\n')[0].slice(0, 300)}`);
        }
        log(`browser ${ep} ${m.id} done`);
      }
      await page.close();
    }
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
    server.close();
  }
  const version = (() => {
    try {
      return execSync('/usr/bin/chromium --version', { encoding: 'utf8', timeout: 10_000 }).trim();
    } catch {
      return '';
    }
  })();
  const rows: (string | number)[][] = [];
  for (const m of models) {
    for (const n of [1, 64, 256]) {
      const w = results.get(`wasm|${m.id}`)?.find((r) => r.n === n);
      const g = results.get(`webgpu|${m.id}`)?.find((r) => r.n === n);
      const cell = (r?: Result[number]) => (r ? [fmt(r.p50), fmt(r.p95), fmt(r.rate)] : ['-', '-', '-']);
      rows.push([m.id, n, ...cell(w), ...cell(g), w && g ? `${(g.rate / w.rate).toPrecision(2)}x` : '-']);
    }
  }
  return [
    '### Browser: onnxruntime-web in headless Chromium, WebGPU vs wasm',
    '',
    table(['model', 'n', 'wasm p50 ms', 'wasm p95 ms', 'wasm samples/s', 'WebGPU p50 ms', 'WebGPU p95 ms', 'WebGPU samples/s', 'WebGPU / wasm'], rows),
    '',
    `${version || '/usr/bin/chromium'}, headless, --enable-unsafe-webgpu. WebGPU adapter: ${adapters.join('; ') || 'none'}. **WebGPU here is SwiftShader, Chromium's CPU implementation of the GPU API, on the same 2 cores**: these WebGPU figures measure a software rasteriser's compute path, not a GPU, and say nothing about a user's GPU. wasm: onnxruntime-web's wasm build, one thread (the page is not cross-origin isolated, as web/ ships). Each run includes drawing the noise in the page and reading the output back to JS.`,
    errors.length ? `\nErrors: ${errors.join('; ')}` : '',
  ].join('\n');
}
