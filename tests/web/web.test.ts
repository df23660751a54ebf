/**
 * End-to-end tests of the web client in real Chromium (playwright-core driving
 * /usr/bin/chromium), against the built page (npm run build:web), real models
 * (or contract fixtures, see site.ts) and the real Node API for comparison.
 * Screenshots go to test-results/screenshots/.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAMILY_ORDER } from '../../core/families';
import type { Manifest } from '../../core/manifest';
import { drawLabels } from '../../core/prng';
import { maxRelDiff } from '../../core/protocol';
import { launchChromium, prepareModels, startSite, type Site } from './site';

const SHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
const launch = (webgpu: boolean) => launchChromium({ webgpu, viewport: { width: 1100, height: 900 } });

async function open(ctx: BrowserContext, url: string): Promise<Page> {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(url);
  // ready once the first-load drawing (a sample grid, the compare cards) is done: slow on SwiftShader's CPU WebGPU
  await page.waitForSelector('body[data-ready=true]', { timeout: 90_000 });
  return page;
}

/** Samples drawn through the Sample view: the rows the page shows in its "raw values" panel. */
async function sampleInPage(page: Page, id: string, seed: number, n: number, mode = 'sample', temperature: string | null = '1'): Promise<{ engine: string; samples: number[][] }> {
  await page.click('#tab-sample');
  await page.selectOption('#sample-model', id);
  await page.fill('#sample-seed', String(seed));
  await page.fill('#sample-n', String(n));
  // null: leave the field as the page set it for the model
  if (temperature !== null) await page.fill('#sample-temp', temperature);
  if (await page.isVisible('#sample-mode')) await page.selectOption('#sample-mode', mode);
  await page.evaluate(() => { document.getElementById('sample-json')!.textContent = ''; });
  await page.click('#sample-form button[type=submit]');
  await page.waitForFunction(() => (document.getElementById('sample-json')!.textContent ?? '').length > 0, null, { timeout: 60_000 });
  return JSON.parse((await page.textContent('#sample-json'))!);
}

/** `temperature` 'default': the request names none, so the API draws at the model's sampleTemperature */
async function apiSample(site: Site, id: string, seed: number, n: number, mode = 'sample', label?: number, temperature: number | 'default' = 1): Promise<number[][]> {
  const body = { n, seed, mode, label, ...(temperature === 'default' ? {} : { temperature }) };
  const res = await fetch(`${site.url}v1/models/${id}/sample`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { samples: number[][] }).samples;
}

/** The cross-runtime contract's measure (core/protocol.ts maxRelDiff) over rows. */
function rowsRelDiff(a: number[][], b: number[][]): number {
  expect(a.length).toBe(b.length);
  return maxRelDiff(a.flat(), b.flat());
}

let site: Site;
let webDir: string;
let staticSite: Site;

beforeAll(async () => {
  // a private build of the current sources, so a stale or concurrent dist/web cannot mislead the tests
  webDir = mkdtempSync(join(tmpdir(), 'edgegen-web-dist-'));
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn', '--outDir', webDir, '--emptyOutDir']);
  mkdirSync(SHOTS, { recursive: true });
  const models = prepareModels();
  site = await startSite({ api: true, models, webDir });
  staticSite = await startSite({ api: false, models, webDir });
});
afterAll(async () => {
  await site?.close();
  await staticSite?.close();
  rmSync(webDir, { recursive: true, force: true });
  rmSync(site.modelsDir, { recursive: true, force: true });
});

const pick = (pred: (m: Site['index']['models'][number]) => boolean) => site.index.models.find(pred)!;

describe('web client on wasm (no WebGPU)', () => {
  let b: Awaited<ReturnType<typeof launch>>;
  let page: Page;
  beforeAll(async () => {
    b = await launch(false);
    page = await open(b.browser, site.url);
  });
  afterAll(async () => b?.close());

  it('chooses the wasm provider and says so', async () => {
    expect(await page.getAttribute('#backend', 'data-backend')).toBe('wasm');
    expect(await page.textContent('#backend')).toContain('wasm');
  });

  it('draws on first load: a sample grid, the compare cards of every family, metrics in sentences with units', async () => {
    const fresh = await open(b.browser, site.url);
    try {
      // no click: the Sample view already shows the default (image) model's grid
      const shown = JSON.parse((await fresh.textContent('#sample-json'))!) as { id: string; samples: number[][] };
      expect(shown.samples.length).toBe(64);
      expect(site.index.models.find((x) => x.id === shown.id)!.shape).toHaveLength(2);
      const painted = await fresh.$eval('#sample-canvas', (c) => {
        const cv = c as HTMLCanvasElement;
        const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
        let lit = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 60) lit++;
        return { w: cv.width, lit };
      });
      expect(painted.w).toBeGreaterThan(0);
      expect(painted.lit).toBeGreaterThan(100);
      // the Compare view drew too, one finished card per family of the richest data set
      const cards = await fresh.$$eval('#compare-cards .card', (cs) => cs.map((c) => [(c as HTMLElement).dataset.family, (c as HTMLElement).dataset.state, c.textContent ?? '']));
      expect(new Set(cards.map(([f]) => f))).toEqual(new Set(FAMILY_ORDER));
      expect(cards.every(([, st]) => st === 'done')).toBe(true);
      const text = cards.map(([, , t]) => t).join(' ') + (await fresh.textContent('#traits'));
      expect(text).not.toMatch(/iwaeK|testNll|trueNll|\bmmd\b/);
      // the richest data set is a toy (nats per point) or an image set (nats per image)
      expect(text).toMatch(/nats per (point|image)/);
      const made = cards.find(([f]) => f === 'made');
      if (made) expect(made[2]).toMatch(/no latent code/);
      await fresh.screenshot({ path: join(SHOTS, 'first-load.png'), fullPage: true });
    } finally {
      await fresh.close();
    }
  });

  it('draws the same samples as the Node API for a seed, for every family', async () => {
    for (const family of FAMILY_ORDER) {
      const m = pick((x) => x.family === family && x.shape.length === 1) ?? pick((x) => x.family === family);
      if (!m) continue;
      const local = await sampleInPage(page, m.id, 7, 32);
      expect(local.engine).toBe('browser');
      const remote = await apiSample(site, m.id, 7, 32);
      expect(rowsRelDiff(local.samples, remote), m.id).toBeLessThan(1e-4);
    }
    await page.screenshot({ path: join(SHOTS, 'sample-wasm.png'), fullPage: true });
  });

  it("starts the temperature at the model's sampleTemperature, so a seed draws what the API draws for a request that names none", async () => {
    const m = pick((x) => x.sampleTemperature !== undefined && x.sampleTemperature !== 1 && x.family !== 'made');
    expect(m, 'a shipped model states a sampleTemperature').toBeTruthy();
    const local = await sampleInPage(page, m.id, 7, 8, 'sample', null);
    expect(await page.inputValue('#sample-temp')).toBe(String(m.sampleTemperature));
    expect(rowsRelDiff(local.samples, await apiSample(site, m.id, 7, 8, 'sample', undefined, 'default')), m.id).toBeLessThan(1e-4);
    // which is not what it draws at 1
    expect(rowsRelDiff(local.samples, await apiSample(site, m.id, 7, 8, 'sample', undefined, 1))).toBeGreaterThan(1e-2);
    // and another model without one goes back to 1
    await page.selectOption('#sample-model', pick((x) => x.sampleTemperature === undefined && x.capabilities.includes('sample')).id);
    expect(await page.inputValue('#sample-temp')).toBe('1');
  });

  it('runs the same request through the API when switched', async () => {
    const m = pick((x) => x.family === 'flow');
    await page.check('#use-api');
    const calls = site.apiCalls.length;
    const viaApi = await sampleInPage(page, m.id, 3, 8);
    // through the typed client, rows read as raw float32
    expect(site.apiCalls.slice(calls)).toContain(`POST /v1/models/${m.id}/sample?format=f32 application/json`);
    await page.uncheck('#use-api');
    const local = await sampleInPage(page, m.id, 3, 8);
    expect(viaApi.engine).toBe('api');
    expect(rowsRelDiff(local.samples, viaApi.samples)).toBeLessThan(1e-4);
  });

  it('offers a sampler\'s precisions where it ships several, starting at the one the API answers by default, and loads the graph chosen', async () => {
    const m = pick((x) => (x.dtypes ?? []).length > 1);
    // models/ ships an int8 sampler beside float32: a missing one fails here instead of passing without running
    expect(m, 'a shipped model lists two dtypes').toBeTruthy();
    const files = (dtype: string) => site.requests.filter((p) => p === `/models/${m.id}/${dtype === 'float32' ? 'sample.onnx' : `sample.${dtype}.onnx`}`).length;
    await page.click('#tab-sample');
    await page.selectOption('#sample-model', m.id);
    expect(await page.isVisible('#sample-dtype')).toBe(true);
    expect(await page.$$eval('#sample-dtype option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(m.dtypes);
    expect(await page.inputValue('#sample-dtype')).toBe(m.sampleDtype ?? 'float32');
    for (const dtype of m.dtypes!) {
      await page.selectOption('#sample-model', m.id);
      const before = files(dtype);
      await page.selectOption('#sample-dtype', dtype);
      const local = (await sampleInPage(page, m.id, 4, 2, 'sample', null)) as { samples: number[][]; dtype?: string };
      expect(local.dtype).toBe(dtype);
      // the page's library fetched the graph chosen (the default's may have come before, for the compare view),
      // and draws what the API draws with it
      if (dtype !== (m.sampleDtype ?? 'float32')) expect(files(dtype), `${dtype} graph fetched`).toBe(before + 1);
      expect(files(dtype), dtype).toBeGreaterThan(0);
      const body = { n: 2, seed: 4, dtype };
      const res = await fetch(`${site.url}v1/models/${m.id}/sample`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(rowsRelDiff(local.samples, ((await res.json()) as { samples: number[][] }).samples), dtype).toBeLessThan(1e-4);
    }
    // a model with one precision shows no choice
    await page.selectOption('#sample-model', pick((x) => (x.dtypes ?? ['float32']).length === 1 && x.capabilities.includes('sample')).id);
    expect(await page.isVisible('#sample-dtype')).toBe(false);
  });

  it('renders every family of a data set in the compare view', async () => {
    // the 2-D data set with the most families
    const toys = [...new Set(site.index.models.filter((x) => x.shape.length === 1).map((x) => x.dataset))];
    const families = (d: string) => new Set(site.index.models.filter((x) => x.dataset === d).map((x) => x.family)).size;
    const toy = toys.sort((a, b) => families(b) - families(a))[0];
    const expected = site.index.models.filter((x) => x.dataset === toy);
    await page.click('#tab-compare');
    await page.selectOption('#compare-dataset', toy);
    await page.click('#compare-form button[type=submit]');
    await page.waitForFunction((n) => document.querySelectorAll('#compare-cards .card[data-state]').length === n, expected.length, { timeout: 60_000 });
    const states = await page.$$eval('#compare-cards .card', (cs) => cs.map((c) => [(c as HTMLElement).dataset.family, (c as HTMLElement).dataset.state]));
    expect(states.every(([, s]) => s === 'done')).toBe(true);
    expect(new Set(states.map(([f]) => f))).toEqual(new Set(expected.map((x) => x.family)));
    // every family shows a card: the one 2-D data set holds all four
    expect(new Set(states.map(([f]) => f))).toEqual(new Set(FAMILY_ORDER));
    const gan = expected.find((x) => x.family === 'gan');
    if (gan) expect(await page.textContent(`.card[data-model="${gan.id}"]`)).toMatch(/No density/);
    expect(await page.$$eval('#traits tbody tr', (r) => r.length)).toBeGreaterThanOrEqual(4);
    await page.screenshot({ path: join(SHOTS, 'compare-wasm.png'), fullPage: true });
  });

  it('draws an image card for every family on MNIST, MADE drawn pixel by pixel', async () => {
    const mnist = site.index.models.filter((x) => x.dataset === 'mnist');
    // models/ ships an image MADE: a missing one fails here instead of passing without running
    expect(mnist.some((x) => x.family === 'made'), 'an MNIST MADE ships').toBe(true);
    await page.click('#tab-compare');
    await page.selectOption('#compare-dataset', 'mnist');
    await page.click('#compare-form button[type=submit]');
    // wait for MNIST's own cards: another data set may have as many models as MNIST (moons does)
    const ids = mnist.map((x) => x.id).sort();
    await page.waitForFunction(
      (want) => {
        const cards = [...document.querySelectorAll<HTMLElement>('#compare-cards .card')];
        return cards.every((c) => c.dataset.state) && JSON.stringify(cards.map((c) => c.dataset.model).sort()) === JSON.stringify(want);
      },
      ids,
      { timeout: 120_000 },
    );
    const cards = await page.$$eval('#compare-cards .card', (cs) => cs.map((c) => [(c as HTMLElement).dataset.family, (c as HTMLElement).dataset.state, c.textContent ?? '']));
    expect(cards.every(([, st]) => st === 'done'), JSON.stringify(cards)).toBe(true);
    expect(new Set(cards.map(([f]) => f))).toEqual(new Set(FAMILY_ORDER));
    expect(cards.find(([f]) => f === 'made')![2]).toMatch(/drawn pixel by pixel|One row per class/);
    expect(cards.map(([, , t]) => t).join(' ')).toMatch(/bits per dimension/);
    await page.screenshot({ path: join(SHOTS, 'compare-mnist-wasm.png'), fullPage: true });
  });

  it('scores a held-out test image with a finite log-density that agrees with the API', async () => {
    const m = pick((x) => x.shape.length === 2 && x.capabilities.includes('density'));
    await page.click('#tab-density');
    await page.selectOption('#density-model', m.id);
    await page.waitForFunction(() => document.querySelectorAll('#density-pick option').length > 1);
    await page.selectOption('#density-pick', `${m.dataset}:3`);
    if (await page.isVisible('#density-k')) await page.fill('#density-k', '8');
    await page.click('#density-form button[type=submit]');
    await page.waitForFunction(() => (document.getElementById('density-out')!.dataset.logp ?? '') !== '', null, { timeout: 20_000 }).catch(async (e) => { throw new Error(`${e}; status: ${await page.textContent('#status')}`); });
    const logp = Number(await page.getAttribute('#density-out', 'data-logp'));
    expect(Number.isFinite(logp)).toBe(true);
    expect(await page.textContent('#density-out')).toMatch(/bits\/dim/);
    await page.waitForFunction(() => /More typical than/.test(document.getElementById('density-hist-note')!.textContent ?? ''), null, { timeout: 60_000 });
    // the same image through the API, with the same seed: same dequantisation noise and eps
    const img = await page.evaluate(async (ds) => ((await (await fetch(`testset-${ds}.json`)).json()) as { rows: number[][] }).rows[3], m.dataset);
    const res = await fetch(`${site.url}v1/models/${m.id}/density`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: [img], seed: 0, k: 8 }) });
    const api = (await res.json()) as { logp: number[] };
    expect(Math.abs(api.logp[0] - logp)).toBeLessThan(1e-4 * Math.max(1, Math.abs(logp)));
    await page.screenshot({ path: join(SHOTS, 'density-wasm.png'), fullPage: true });

    // the page's API mode sends the image as raw float32 and shows the same number
    await page.check('#use-api');
    const calls = site.apiCalls.length;
    await page.evaluate(() => { document.getElementById('density-out')!.dataset.logp = ''; });
    await page.click('#density-form button[type=submit]');
    await page.waitForFunction(() => (document.getElementById('density-out')!.dataset.logp ?? '') !== '', null, { timeout: 20_000 });
    await page.uncheck('#use-api');
    expect(site.apiCalls.slice(calls).some((c) => c.startsWith(`POST /v1/models/${m.id}/density?`) && c.endsWith('application/octet-stream'))).toBe(true);
    const viaApi = Number(await page.getAttribute('#density-out', 'data-logp'));
    expect(Math.abs(viaApi - logp)).toBeLessThan(1e-4 * Math.max(1, Math.abs(logp)));
  });

  it('scores a 2-D held-out point with the flow, and says why the GAN cannot', async () => {
    const flow = pick((x) => x.family === 'flow' && x.shape.length === 1);
    await page.click('#tab-density');
    await page.selectOption('#density-model', flow.id);
    await page.waitForFunction(() => !document.getElementById('density-x1')!.closest('label')!.hidden);
    const hasSet = (await page.$$('#density-pick option')).length > 1;
    if (hasSet) await page.selectOption('#density-pick', `${flow.dataset}:0`);
    await page.evaluate(() => { document.getElementById('density-out')!.dataset.logp = ''; });
    await page.click('#density-form button[type=submit]');
    await page.waitForFunction(() => (document.getElementById('density-out')!.dataset.logp ?? '') !== '', null, { timeout: 20_000 }).catch(async (e) => { throw new Error(`${e}; status: ${await page.textContent('#status')}`); });
    const logp = Number(await page.getAttribute('#density-out', 'data-logp'));
    const x = [Number(await page.inputValue('#density-x1')), Number(await page.inputValue('#density-x2'))];
    const res = await fetch(`${site.url}v1/models/${flow.id}/density`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: [x] }) });
    expect(Math.abs(((await res.json()) as { logp: number[] }).logp[0] - logp)).toBeLessThan(1e-4 * Math.max(1, Math.abs(logp)));
    await page.screenshot({ path: join(SHOTS, 'density-2d-wasm.png'), fullPage: true });
    const gan = pick((x) => x.family === 'gan');
    await page.selectOption('#density-model', gan.id);
    await page.click('#density-form button[type=submit]');
    await page.waitForFunction(() => /gives no density/.test(document.getElementById('density-out')!.textContent ?? ''));
    expect(await page.textContent('#density-out')).toContain('GAN');
  });

  it('"Is this normal?" flags a noise image with every calibrated image model, as the API\'s /score does, and a test digit is normal to most', async () => {
    const calibrated = await Promise.all(
      site.index.models.filter((x) => x.shape.length === 2 && x.capabilities.includes('density')).map(async (x) => (await (await fetch(`${site.url}models/${x.id}/manifest.json`)).json()) as { id: string; dataset: string; calibration?: unknown }),
    ).then((ms) => ms.filter((x) => x.calibration));
    expect(calibrated.length).toBeGreaterThanOrEqual(1);
    const verdicts = async (input: string) => {
      await page.click('#tab-density');
      await page.selectOption('#density-model', calibrated[0].id);
      await page.waitForFunction(() => document.querySelectorAll('#density-pick option').length > 3);
      await page.fill('#density-seed', '0');
      await page.selectOption('#density-pick', input);
      await page.evaluate(() => { document.getElementById('normal-out')!.dataset.done = ''; });
      await page.click('#density-form button[type=submit]');
      await page.waitForFunction(() => document.getElementById('normal-out')!.dataset.done === 'true', null, { timeout: 60_000 }).catch(async (e) => { throw new Error(`${e}; status: ${await page.textContent('#status')}`); });
      return page.$$eval('#normal-table tbody tr', (rows) => rows.map((r) => ({ id: (r as HTMLElement).dataset.model!, outlier: (r as HTMLElement).dataset.outlier!, anomaly: Number((r as HTMLElement).dataset.anomaly), text: r.textContent ?? '' })));
    };
    const noise = await verdicts('noise');
    for (const m of calibrated) {
      const row = noise.find((r) => r.id === m.id);
      expect(row, m.id).toBeTruthy();
      expect(row!.outlier, `${m.id}: ${row!.text}`).toBe('true');
      expect(row!.text).toMatch(/anomaly/);
    }
    await page.screenshot({ path: join(SHOTS, 'normal-noise-wasm.png'), fullPage: true });
    // the page's anomaly is the API's: the same pixels (the page draws its noise from Prng(noise seed + 1)), the same estimator
    const { Prng } = await import('../../core/prng');
    const img = Array.from(new Prng(1).uniforms(784), (u) => Math.floor(u * 256));
    for (const m of calibrated) {
      const res = await fetch(`${site.url}v1/models/${m.id}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: [img], seed: 0 }) });
      const api = (await res.json()) as { anomaly: number[]; outlier: boolean[] };
      const row = noise.find((r) => r.id === m.id)!;
      expect(api.outlier).toEqual([true]);
      expect(Math.abs(api.anomaly[0] - row.anomaly)).toBeLessThan(1e-3 * Math.max(1, Math.abs(row.anomaly)));
    }
    // a held-out digit of the model's own data set is normal to that model
    const own = calibrated[0];
    const digit = await verdicts(`${own.dataset}:3`);
    expect(digit.find((r) => r.id === own.id)!.outlier).toBe('false');
  });

  it('interpolates along the same great circle (slerp) as the API', async () => {
    for (const m of site.index.models.filter((x) => x.family !== 'vae' && x.capabilities.includes('sample')).slice(0, 2)) {
      await page.click('#tab-interpolate');
      await page.selectOption('#interp-model', m.id);
      await page.fill('#interp-a', '4');
      await page.fill('#interp-b', '9');
      await page.fill('#interp-steps', '6');
      await page.evaluate(() => { document.getElementById('interp-json')!.textContent = ''; });
      await page.click('#interp-form button[type=submit]');
      await page.waitForFunction(() => (document.getElementById('interp-json')!.textContent ?? '').length > 0, null, { timeout: 60_000 });
      const { samples } = JSON.parse((await page.textContent('#interp-json'))!) as { samples: number[][] };
      expect(samples).toHaveLength(6);
      // the ends are exactly the seeds' own samples (GAN and flow decoders are deterministic); a
      // conditional model's path stays in the class seed 4 draws, so its far end is seed 9's z in that class
      const classes = ((await (await fetch(`${site.url}models/${m.id}/manifest.json`)).json()) as Manifest).classes;
      const label = classes ? drawLabels(4, 1, classes.prior)[0] : undefined;
      // at the temperature the page starts at for the model: its sampleTemperature, else 1
      const t = m.sampleTemperature ?? 1;
      expect(await page.inputValue('#interp-temp')).toBe(String(t));
      expect(rowsRelDiff([samples[0]], await apiSample(site, m.id, 4, 1, 'sample', label, t))).toBeLessThan(1e-4);
      expect(rowsRelDiff([samples[5]], await apiSample(site, m.id, 9, 1, 'sample', label, t))).toBeLessThan(1e-4);
      // and every step in between is the API's own interpolation (a linear path would differ in the middle)
      const res = await fetch(`${site.url}v1/models/${m.id}/interpolate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seedA: 4, seedB: 9, steps: 6 }) });
      expect(rowsRelDiff(samples, ((await res.json()) as { samples: number[][] }).samples)).toBeLessThan(1e-4);
    }
    await page.screenshot({ path: join(SHOTS, 'interpolate-wasm.png'), fullPage: true });
  });

  it('moves between views with the arrow keys', async () => {
    await page.click('#tab-sample');
    await page.focus('#tab-sample');
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#tab-compare', 'aria-selected')).toBe('true');
    expect(await page.isVisible('#view-compare')).toBe(true);
    expect(await page.isVisible('#view-sample')).toBe(false);
    await page.keyboard.press('ArrowLeft');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-sample');
  });

  it('serves model files from the Cache API after a reload', async () => {
    const before = site.requests.filter((p) => p.endsWith('.onnx')).length;
    expect(before).toBeGreaterThan(0);
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    const m = pick((x) => x.family === 'flow');
    await sampleInPage(page, m.id, 1, 4);
    expect(site.requests.filter((p) => p.endsWith('.onnx')).length).toBe(before);
    expect(await page.evaluate(() => (globalThis as unknown as { edgegenFetchStats: { cache: number } }).edgegenFetchStats.cache)).toBeGreaterThan(0);
  });
});

describe('web client on WebGPU (SwiftShader here)', () => {
  let b: Awaited<ReturnType<typeof launch>>;
  beforeAll(async () => { b = await launch(true); });
  afterAll(async () => b?.close());

  it('chooses WebGPU and samples equal the Node API within 1e-4', async () => {
    const page = await open(b.browser, site.url);
    await page.waitForFunction(() => document.getElementById('backend')!.dataset.backend !== undefined);
    expect(await page.getAttribute('#backend', 'data-backend')).toBe('webgpu');
    const m = pick((x) => x.family === 'flow' && x.shape.length === 1);
    const local = await sampleInPage(page, m.id, 5, 64);
    expect(await page.getAttribute('#backend', 'data-backend')).toBe('webgpu'); // no silent fallback
    expect(rowsRelDiff(local.samples, await apiSample(site, m.id, 5, 64))).toBeLessThan(1e-4);
    await page.screenshot({ path: join(SHOTS, 'sample-webgpu.png'), fullPage: true });
  });

  it('falls back to wasm when the WebGPU build cannot load (a host that left out its .wasm)', async () => {
    // a host may cap or drop large files: remove the WebGPU (JSPI) build's .wasm
    const trimmed = mkdtempSync(join(tmpdir(), 'edgegen-web-trimmed-'));
    cpSync(webDir, trimmed, { recursive: true });
    for (const f of readdirSync(join(trimmed, 'assets'))) if (f.includes('jspi') && f.endsWith('.wasm')) rmSync(join(trimmed, 'assets', f));
    const host = await startSite({ api: false, models: { dir: site.modelsDir, index: site.index }, webDir: trimmed });
    try {
      const page = await open(b.browser, host.url);
      const m = pick((x) => x.family === 'flow' && x.shape.length === 1);
      const local = await sampleInPage(page, m.id, 5, 16);
      expect(await page.getAttribute('#backend', 'data-backend')).toBe('wasm');
      expect(await page.textContent('#backend')).toMatch(/WebGPU failed/);
      expect(rowsRelDiff(local.samples, await apiSample(site, m.id, 5, 16))).toBeLessThan(1e-4);
    } finally {
      await host.close();
      rmSync(trimmed, { recursive: true, force: true });
    }
  });

  it('works as plain static files: the API switch is disabled with a reason', async () => {
    const page = await open(b.browser, staticSite.url);
    await page.waitForFunction(() => /no API/.test(document.getElementById('api-note')!.textContent ?? ''));
    expect(await page.isDisabled('#use-api')).toBe(true);
    const m = pick((x) => x.shape.length === 2);
    await page.setViewportSize({ width: 380, height: 800 });
    await sampleInPage(page, m.id, 0, 16, 'mean');
    await page.screenshot({ path: join(SHOTS, 'static-narrow.png'), fullPage: true });
  });
});
