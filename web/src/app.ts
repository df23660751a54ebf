/**
 * Shared page state: the model list, manifests, which engine runs requests
 * (this browser or the API), and the status line with its progress bar.
 */
import type { Manifest, ModelIndex } from '../../core/manifest';
import type { DeviceChoice, ProgressInfo } from '../lib';
import { ApiEngine } from './api';
import { BrowserEngine, type Engine } from './engine';

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el as T;
};

export function setStatus(text: string, isError = false): void {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', isError);
}

const query = new URLSearchParams(location.search);
/** `?ep=wasm` runs every model on wasm. */
export const forcedWasm = query.get('ep') === 'wasm';
/** `?webgpu-tolerance=`: the bound of the WebGPU probe instead of each model's own (a stricter one shows the fallback at work). */
const webgpuTolerance = Number(query.get('webgpu-tolerance')) || undefined;

/** Counts of what came from the network vs the cache, shown in the status bar (and read by tests). */
export const fetchStats = { network: 0, cache: 0, bytes: 0 };

const progress = (p: ProgressInfo): void => {
  if (p.done && p.cached) fetchStats.cache++;
  if (p.done && !p.cached) {
    fetchStats.network++;
    fetchStats.bytes += p.loaded;
  }
  const bar = $<HTMLProgressElement>('progress');
  bar.max = Math.max(p.total, 1);
  bar.value = Math.min(p.loaded, bar.max);
  setStatus(`${p.file}${p.cached ? ' (cached)' : ''}: ${(p.loaded / 1e6).toFixed(2)} / ${(p.total / 1e6).toFixed(2)} MB`);
};

/** The provider each model's graphs run on (the library decides per graph), the latest opened shown; every model's in data attributes. */
function showModelDevice(d: DeviceChoice): void {
  const el = $('model-backend');
  const reason = forcedWasm ? 'forced by ?ep=wasm' : d.reason;
  el.textContent = `${d.model}: ${d.device === 'webgpu' ? 'WebGPU' : 'wasm'} (${reason})`;
  el.dataset.model = d.model;
  el.dataset.backend = d.device;
  const all = JSON.parse(el.dataset.all ?? '{}') as Record<string, string>;
  all[d.model] = d.device;
  el.dataset.all = JSON.stringify(all);
  // every model's reason, not only the latest: the first load opens several models at once
  const reasons = JSON.parse(el.dataset.reasons ?? '{}') as Record<string, string>;
  reasons[d.model] = reason;
  el.dataset.reasons = JSON.stringify(reasons);
}

export const browserEngine = new BrowserEngine({ device: forcedWasm ? 'wasm' : 'auto', webgpuTolerance, onProgress: progress, onDevice: showModelDevice });
export const apiEngine = new ApiEngine();

export const app = {
  index: { models: [] } as ModelIndex,
  useApi: false,
  engine(): Engine {
    return this.useApi ? apiEngine : browserEngine;
  },
  /** a model's manifest, read by the library (its graphs download on first use) */
  async manifest(id: string): Promise<Manifest> {
    return (await browserEngine.model(id)).manifest;
  },
};

export { isImage } from '../../core/protocol';

/** Fills a <select> with models (optionally filtered), keeping the current choice if still offered. */
export function fillModelSelect(sel: HTMLSelectElement, keep: (m: ModelIndex['models'][number]) => boolean = () => true): void {
  const current = sel.value;
  sel.replaceChildren(
    ...app.index.models.filter(keep).map((m) => {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = `${m.id} (${m.family}, ${m.dataset})`;
      return o;
    }),
  );
  if ([...sel.options].some((o) => o.value === current)) sel.value = current;
}

export const intValue = (id: string, fallback: number, min = 0, max = 0xffffffff): number => {
  const v = Math.floor(Number($<HTMLInputElement>(id).value));
  return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : fallback;
};

export const numValue = (id: string, fallback: number): number => {
  const v = Number($<HTMLInputElement>(id).value);
  return Number.isFinite(v) ? v : fallback;
};

/** Runs a view's action with errors shown in the status line instead of lost in the console. */
export async function guarded(label: string, job: () => Promise<void>): Promise<void> {
  try {
    await job();
  } catch (err) {
    console.error(err);
    setStatus(`${label}: ${err instanceof Error ? err.message : String(err)}`, true);
  }
}

export const where = (): string => (app.useApi ? 'through the API' : 'in this browser');
