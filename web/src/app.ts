/**
 * Shared page state: the model list, manifests, which engine runs requests
 * (this browser or the API), and the status line with its progress bar.
 */
import type { Manifest, ModelIndex } from '../../core/manifest';
import { ApiEngine } from './api';
import { BrowserEngine, type Engine } from './engine';
import { loadManifest } from './models';

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

const progress = (loaded: number, total: number, note: string): void => {
  const bar = $<HTMLProgressElement>('progress');
  bar.max = Math.max(total, 1);
  bar.value = Math.min(loaded, bar.max);
  setStatus(`${note}: ${(loaded / 1e6).toFixed(2)} / ${(total / 1e6).toFixed(2)} MB`);
};

export const browserEngine = new BrowserEngine(progress);
export const apiEngine = new ApiEngine();

export const app = {
  index: { models: [] } as ModelIndex,
  useApi: false,
  engine(): Engine {
    return this.useApi ? apiEngine : browserEngine;
  },
  manifest(id: string): Promise<Manifest> {
    return loadManifest(id);
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
