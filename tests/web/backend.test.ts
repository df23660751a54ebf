/**
 * The page's per-model choice of WebGPU or wasm (device 'auto' of the library
 * it runs on, web/lib/runtime.ts), in real Chromium with WebGPU (SwiftShader
 * here): a 2-D model runs on wasm by rule;
 * an image MLP and a conv graph (a DCGAN fixture: ConvTranspose, which
 * onnxruntime's WebGPU provider may lack) each run one probe row on WebGPU and
 * on wasm, and keep WebGPU only when it runs and agrees within the model's
 * cross-runtime tolerance (1e-4 relative, or what its manifest states);
 * otherwise the page says why and runs the model on wasm. Whichever provider
 * is chosen, the samples equal the Node API's within the same tolerance.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../core/manifest';
import { maxRelDiff, sampleTolerance } from '../../core/protocol';
import { addConvFixture, launchChromium, prepareModels, startSite, type Site } from './site';

let site: Site;
let webDir: string;
let chrome: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let convId: string;

beforeAll(async () => {
  webDir = mkdtempSync(join(tmpdir(), 'edgegen-web-dist-'));
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn', '--outDir', webDir, '--emptyOutDir']);
  const models = prepareModels();
  convId = addConvFixture(models);
  site = await startSite({ api: true, models, webDir });
  chrome = await launchChromium({ webgpu: true });
  page = await chrome.browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(site.url);
  // the first load draws a grid on WebGPU: slow on SwiftShader's CPU WebGPU, and slower on a busy machine
  await page.waitForSelector('body[data-ready=true]', { timeout: 90_000 });
}, 180_000);
afterAll(async () => {
  await chrome?.close();
  await site?.close();
  rmSync(webDir, { recursive: true, force: true });
  rmSync(site.modelsDir, { recursive: true, force: true });
});

/** Sample n rows of a model in the page; the provider and reason the page shows for it. */
async function sampleHere(id: string, n: number): Promise<{ samples: number[][]; backend: string; reason: string }> {
  await page.click('#tab-sample');
  await page.selectOption('#sample-model', id);
  await page.fill('#sample-seed', '5');
  await page.fill('#sample-n', String(n));
  await page.fill('#sample-temp', '1');
  if (await page.isVisible('#sample-mode')) await page.selectOption('#sample-mode', 'sample');
  await page.evaluate(() => { document.getElementById('sample-json')!.textContent = ''; });
  await page.click('#sample-form button[type=submit]');
  await page.waitForFunction(() => (document.getElementById('sample-json')!.textContent ?? '').length > 0, null, { timeout: 120_000 });
  const { samples } = JSON.parse((await page.textContent('#sample-json'))!) as { samples: number[][] };
  const all = JSON.parse((await page.getAttribute('#model-backend', 'data-all')) ?? '{}') as Record<string, string>;
  const reasons = JSON.parse((await page.getAttribute('#model-backend', 'data-reasons')) ?? '{}') as Record<string, string>;
  return { samples, backend: all[id], reason: reasons[id] ?? '' };
}

async function agreesWithApi(id: string, samples: number[][]): Promise<number> {
  const res = await fetch(`${site.url}v1/models/${id}/sample`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: samples.length, seed: 5, temperature: 1, mode: 'sample' }) });
  const api = ((await res.json()) as { samples: number[][] }).samples;
  return maxRelDiff(samples.flat(), api.flat());
}

describe('the page picks WebGPU or wasm per model', () => {
  it('the WebGPU build is available here', async () => {
    expect(await page.getAttribute('#backend', 'data-backend')).toBe('webgpu');
  });

  it('runs a 2-D model on wasm, by rule, and says so', async () => {
    const m = site.index.models.find((x) => x.shape.length === 1 && x.family === 'flow')!;
    const r = await sampleHere(m.id, 16);
    expect(r.backend).toBe('wasm');
    expect(r.reason).toMatch(/2-D model/);
    expect(await agreesWithApi(m.id, r.samples)).toBeLessThan(1e-4);
  });

  it('runs an autoregressive image model on wasm, by rule, and says so', async () => {
    const m = site.index.models.find((x) => x.family === 'made' && x.shape.length === 2)!;
    const r = await sampleHere(m.id, 1);
    expect(r.backend).toBe('wasm');
    expect(r.reason).toMatch(/autoregressive sampler/);
    expect(await agreesWithApi(m.id, r.samples)).toBeLessThan(sampleTolerance(JSON.parse(readFileSync(join(site.modelsDir, m.id, 'manifest.json'), 'utf8')) as Manifest));
  }, 180_000);

  it.each([
    ['an image MLP', () => site.index.models.find((x) => x.shape.length === 2 && x.family === 'gan' && x.id !== convId)!.id],
    ['a conv graph (ConvTranspose)', () => convId],
    ['a multi-scale flow (rank-6 Transpose, a stated tolerance)', () => site.index.models.find((x) => x.id.startsWith('flow-realnvp-ms-'))!.id],
  ])(
    '%s: WebGPU only where it runs and agrees with wasm within its tolerance, else wasm with the reason',
    async (_what, id) => {
      const tol = sampleTolerance(JSON.parse(readFileSync(join(site.modelsDir, id(), 'manifest.json'), 'utf8')) as Manifest);
      const r = await sampleHere(id(), 4);
      console.log(`${id()}: ${r.reason}`);
      expect(['webgpu', 'wasm']).toContain(r.backend);
      if (r.backend === 'webgpu') expect(r.reason).toContain(`agrees with wasm within ${tol} `);
      else expect(r.reason).toMatch(/cannot run on WebGPU|disagreed with wasm|WebGPU failed/);
      // the reason shows the probe's measurement whenever both providers ran
      if (!/cannot run|failed/.test(r.reason)) expect(r.reason).toMatch(/WebGPU [\d.]+ ms, wasm [\d.]+ ms/);
      expect(await agreesWithApi(id(), r.samples)).toBeLessThan(tol);
    },
    180_000,
  );

  it('falls back to wasm, saying why, when WebGPU disagrees beyond the tolerance (made strict: ?webgpu-tolerance=1e-12)', async () => {
    await page.goto(`${site.url}?webgpu-tolerance=1e-12`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
    const id = site.index.models.find((x) => x.shape.length === 2 && x.family === 'gan' && x.id !== convId)!.id;
    const r = await sampleHere(id, 4);
    expect(r.backend).toBe('wasm');
    expect(r.reason).toMatch(/WebGPU disagreed with wasm by [\d.e+-]+ \(> 1e-12 relative\)/);
    expect(await agreesWithApi(id, r.samples)).toBeLessThan(1e-4);
  }, 180_000);
});
