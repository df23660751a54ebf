/**
 * View 4, "Is this normal?": density and anomaly score. Images: draw on a
 * 28x28 pad, or pick a held-out MNIST digit or Fashion-MNIST image
 * (web/public/testset-<dataset>.json), uniform noise or a blank image; 2-D
 * models: type a point. Every density model that takes the input gives its
 * verdict side by side (normal.ts). Flows give exact log p(x), VAEs the ELBO and IWAE bounds, GANs none
 * (and say why). The score is placed among the same model's scores of the
 * held-out set shipped beside the page (or, without one, of its own samples).
 */
import type { Manifest } from '../../../core/manifest';
import { importanceSampled } from '../../../core/protocol';
import { $, app, fillModelSelect, guarded, intValue, isImage, setStatus, where } from '../app';
import { Prng } from '../../../core/prng';
import { drawHistogram } from '../draw';
import { renderVerdicts } from './normal';

/** Image inputs offered beside the drawing: held-out images of both data sets, noise, blank. */
const IMAGE_SETS = [['mnist', 'MNIST test digit'], ['fashion-mnist', 'Fashion-MNIST test image']] as const;

/** web/public/testset-<dataset>.json: the first rows of the data set's held-out split */
interface TestSet { dataset: string; source: string; shape: number[]; rows: number[][] }

const testSets = new Map<string, Promise<TestSet | null>>();
function loadTestSet(dataset: string): Promise<TestSet | null> {
  let p = testSets.get(dataset);
  if (!p) {
    p = fetch(`testset-${dataset}.json`).then((r) => (r.ok ? (r.json() as Promise<TestSet>) : null)).catch(() => null);
    testSets.set(dataset, p);
  }
  return p;
}

/** the drawing pad holds 28x28 pixel values 0..255 */
const pad = new Float32Array(28 * 28);
/** held-out scores per model id + engine + seed, computed once */
const reference = new Map<string, Promise<{ values: number[]; note: string }>>();

function paintPad(): void {
  const canvas = $<HTMLCanvasElement>('draw-canvas');
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < pad.length; i++) {
    const v = Math.round(pad[i]);
    img.data.set([v, v, v, 255], 4 * i);
  }
  const tile = document.createElement('canvas');
  tile.width = tile.height = 28;
  tile.getContext('2d')!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tile, 0, 0, canvas.width, canvas.height);
}

/** A soft round brush, so strokes look like MNIST's anti-aliased pen. */
function stamp(cx: number, cy: number): void {
  for (let y = Math.floor(cy - 2); y <= cy + 2; y++) {
    for (let x = Math.floor(cx - 2); x <= cx + 2; x++) {
      if (x < 0 || y < 0 || x > 27 || y > 27) continue;
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const v = 255 * Math.max(0, Math.min(1, 1.6 - d));
      pad[y * 28 + x] = Math.max(pad[y * 28 + x], v);
    }
  }
}

function initPad(): void {
  const canvas = $<HTMLCanvasElement>('draw-canvas');
  let down = false;
  const at = (ev: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((ev.clientX - r.left) / r.width) * 28, ((ev.clientY - r.top) / r.height) * 28];
  };
  canvas.addEventListener('pointerdown', (ev) => {
    down = true;
    canvas.setPointerCapture(ev.pointerId);
    stamp(...at(ev));
    paintPad();
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!down) return;
    stamp(...at(ev));
    paintPad();
  });
  const end = (): void => {
    if (down) $<HTMLSelectElement>('density-pick').value = 'drawn';
    down = false;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  $('draw-clear').addEventListener('click', () => {
    pad.fill(0);
    $<HTMLSelectElement>('density-pick').value = 'drawn';
    paintPad();
  });
  paintPad();
}

export function initDensity(): void {
  initPad();
  const modelSel = $<HTMLSelectElement>('density-model');
  modelSel.addEventListener('change', () => void guarded('Density', syncModel));
  $<HTMLSelectElement>('density-pick').addEventListener('change', () => void guarded('Density', pickImage));
  for (const id of ['density-x1', 'density-x2']) {
    $(id).addEventListener('input', () => ($<HTMLSelectElement>('density-pick').value = 'drawn'));
  }
  $<HTMLFormElement>('density-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void guarded('Density', run);
  });
}

export function refreshDensity(): void {
  const sel = $<HTMLSelectElement>('density-model');
  const fresh = !sel.value;
  fillModelSelect(sel);
  // open on a model that has a density (one that also classifies, where one ships), not on a GAN's empty table
  if (fresh) {
    const dense = app.index.models.filter((m) => m.capabilities.includes('density'));
    const first = dense.find((m) => m.classes) ?? dense[0];
    if (first) sel.value = first.id;
  }
  void guarded('Density', syncModel);
}

async function syncModel(): Promise<void> {
  const id = $<HTMLSelectElement>('density-model').value;
  if (!id) return;
  const m = await app.manifest(id);
  const image = isImage(m);
  document.querySelectorAll<HTMLElement>('#view-density .img-only').forEach((el) => (el.hidden = !image));
  document.querySelectorAll<HTMLElement>('#view-density .pt-only').forEach((el) => (el.hidden = image));
  document.querySelectorAll<HTMLElement>('#view-density .vae-only').forEach((el) => (el.hidden = !importanceSampled(m)));
  // the seed only matters where noise enters: dequantisation (images) or the VAE's eps
  $('density-seed-label').hidden = !(m.discrete || importanceSampled(m));
  const pick = $<HTMLSelectElement>('density-pick');
  const prev = pick.value;
  const options = [new Option(image ? 'my drawing' : 'typed point', 'drawn')];
  if (image) {
    options.push(new Option('uniform noise', 'noise'), new Option('blank image', 'blank'));
    for (const [ds, label] of IMAGE_SETS) {
      const set = await loadTestSet(ds);
      options.push(...(set?.rows ?? []).map((_, i) => new Option(`${label} #${i}`, `${ds}:${i}`)));
    }
  } else {
    const set = await loadTestSet(m.dataset);
    options.push(...(set?.rows ?? []).map((_, i) => new Option(`held-out #${i}`, `${m.dataset}:${i}`)));
  }
  pick.replaceChildren(...options);
  const own = `${m.dataset}:0`;
  pick.value = [...pick.options].some((o) => o.value === prev) ? prev : [...pick.options].some((o) => o.value === own) ? own : 'drawn';
  await pickImage();
}

async function pickImage(): Promise<void> {
  const pick = $<HTMLSelectElement>('density-pick').value;
  if (pick === 'drawn') return;
  const m = await app.manifest($<HTMLSelectElement>('density-model').value);
  if (pick === 'noise' || pick === 'blank') {
    // noise: each pixel uniform on 0..255, from the noise seed
    const rng = new Prng(intValue('density-seed', 0) + 1);
    pad.set(pick === 'blank' ? new Float32Array(pad.length) : Float32Array.from(rng.uniforms(pad.length), (u) => Math.floor(u * 256)));
    paintPad();
    return;
  }
  const [ds, i] = pick.split(':');
  const set = await loadTestSet(ds);
  const row = set?.rows[Number(i)];
  if (!row) return;
  if (isImage(m)) {
    pad.set(row);
    paintPad();
  } else {
    $<HTMLInputElement>('density-x1').value = String(row[0]);
    $<HTMLInputElement>('density-x2').value = String(row[1]);
  }
}

function currentInput(m: Manifest): Float32Array {
  if (isImage(m)) return Float32Array.from(pad, (v) => Math.min(255, Math.round(v))); // integer pixels; the engine dequantises
  return Float32Array.of(Number(($('density-x1') as HTMLInputElement).value), Number(($('density-x2') as HTMLInputElement).value));
}

async function referenceScores(m: Manifest, seed: number, k: number): Promise<{ values: number[]; note: string }> {
  const engine = app.engine();
  const key = `${m.id}|${engine.name}|${seed}|${k}`;
  let p = reference.get(key);
  if (!p) {
    p = (async () => {
      const set = await loadTestSet(m.dataset);
      if (set) {
        const res = await engine.density(m, set.rows.map((r) => Float32Array.from(r)), { seed, k });
        return { values: res.bitsPerDim ?? res.logp, note: `${set.rows.length} held-out ${isImage(m) ? 'images' : 'points'} (${set.source})` };
      }
      if (isImage(m)) return { values: [], note: `no held-out set ships for ${m.dataset}` };
      const { rows } = await engine.sample(m, { n: 200, seed: 12345, mode: 'sample' });
      const res = await engine.density(m, rows, { seed, k });
      return { values: res.logp, note: `200 samples from the model itself (no held-out set ships for ${m.dataset})` };
    })();
    p.catch(() => reference.delete(key));
    reference.set(key, p);
  }
  return p;
}

async function run(): Promise<void> {
  const m = await app.manifest($<HTMLSelectElement>('density-model').value);
  const out = $('density-out');
  const hist = $<HTMLCanvasElement>('density-hist');
  if (!m.capabilities.includes('density')) {
    out.textContent = `${m.id} (${m.family}) gives no density: ${m.unavailable.density ?? 'not exported'}`;
    out.dataset.logp = '';
    hist.width = hist.height = 0;
    $('density-hist-note').textContent = '';
    return;
  }
  const seed = intValue('density-seed', 0);
  const k = importanceSampled(m) ? intValue('density-k', 64, 1, 1000) : 1;
  setStatus(`scoring with ${m.id} ${where()}…`);
  const res = await app.engine().density(m, [currentInput(m)], { seed, k });
  const logp = res.logp[0];
  const parts = [`log p(x) ${res.kind === 'exact' ? '=' : '≥'} ${logp.toFixed(2)} nats (${res.kind}${res.kind === 'iwae' ? `, K = ${k}` : ''})`];
  if (res.bitsPerDim) parts.push(`${res.bitsPerDim[0].toFixed(3)} bits/dim`);
  if (res.elbo && res.kind === 'iwae') parts.push(`ELBO ${res.elbo[0].toFixed(2)}`);
  parts.push(`${res.ms.toFixed(1)} ms ${where()}`);
  out.textContent = parts.join(' · ');
  out.dataset.logp = String(logp);

  const ref = await referenceScores(m, seed, k);
  const mine = res.bitsPerDim ? res.bitsPerDim[0] : logp;
  const label = res.bitsPerDim ? 'bits/dim (lower = more typical)' : 'log p(x), nats (higher = more typical)';
  drawHistogram(hist, ref.values, mine, label);
  if (ref.values.length) {
    const worse = ref.values.filter((v) => (res.bitsPerDim ? v > mine : v < mine)).length;
    const pct = (100 * worse) / ref.values.length;
    // raw likelihood only: simple inputs (a blank image) look typical here; the verdicts below correct for that
    $('density-hist-note').textContent = `More typical than ${pct.toFixed(0)}% of ${ref.note}, by raw likelihood (which a simple image can fool: see the verdicts below).`;
  } else {
    $('density-hist-note').textContent = ref.note;
  }
  setStatus(`scoring with every density model ${where()}…`);
  await renderVerdicts(m, currentInput(m), seed);
  setStatus(`scored with ${m.id} and every density model that takes this input ${where()}`);
}
