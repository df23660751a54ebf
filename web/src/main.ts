/** Page entry: tabs, backend detection, the API switch, and loading the model list. */
import { $, app, setStatus } from './app';
import { probeApi } from './engine';
import { fetchStats, loadIndex } from './models';
import { chooseBackend, onBackend, onModelBackend } from './runtime';
import { initCompare, refreshCompare } from './views/compare';
import { initDensity, refreshDensity } from './views/density';
import { initInterpolate, refreshInterpolate } from './views/interpolate';
import { initSample, refreshSample } from './views/sample';

function initTabs(): void {
  const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role=tab]')];
  const select = (tab: HTMLButtonElement, focus: boolean): void => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')!).hidden = !on;
    }
    if (focus) tab.focus();
    history.replaceState(null, '', `#${tab.id.replace('tab-', '')}`);
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab, false));
    // arrow keys move between tabs (WAI-ARIA tabs pattern)
    tab.addEventListener('keydown', (ev) => {
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
      if (next === undefined) return;
      ev.preventDefault();
      select(tabs[(next + tabs.length) % tabs.length], true);
    });
  });
  const initial = tabs.find((t) => t.id === `tab-${location.hash.slice(1)}`);
  if (initial) select(initial, false);
}

async function initApiSwitch(): Promise<void> {
  const box = $<HTMLInputElement>('use-api');
  const note = $('api-note');
  box.addEventListener('change', () => {
    app.useApi = box.checked;
    note.textContent = box.checked ? 'requests go to /v1 on this host' : 'requests run in this browser';
  });
  if (await probeApi()) {
    box.disabled = false;
    note.textContent = 'an API answers on this host: tick to compare';
  } else {
    box.disabled = true;
    note.textContent = 'no API answers here (GET healthz failed): this page runs everything in the browser';
  }
}

async function main(): Promise<void> {
  initTabs();
  initSample();
  initCompare();
  initInterpolate();
  initDensity();
  void initApiSwitch();
  onBackend((b) => {
    const el = $('backend');
    el.textContent = `${b.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly (wasm)'} (${b.reason})`;
    el.dataset.backend = b.backend;
  });
  // the provider each model's graphs run on (runtime.ts decides per model), the latest opened shown
  onModelBackend((b) => {
    const el = $('model-backend');
    el.textContent = `${b.model}: ${b.backend === 'webgpu' ? 'WebGPU' : 'wasm'} (${b.reason})`;
    el.dataset.model = b.model;
    el.dataset.backend = b.backend;
    const all = JSON.parse(el.dataset.all ?? '{}') as Record<string, string>;
    all[b.model] = b.backend;
    el.dataset.all = JSON.stringify(all);
    // every model's reason, not only the latest: the first load opens several models at once
    const reasons = JSON.parse(el.dataset.reasons ?? '{}') as Record<string, string>;
    reasons[b.model] = b.reason;
    el.dataset.reasons = JSON.stringify(reasons);
  });
  const backend = chooseBackend();
  try {
    app.index = await loadIndex();
  } catch (err) {
    setStatus(`no models found (${err instanceof Error ? err.message : String(err)}); export some into models/`, true);
    return;
  }
  refreshInterpolate();
  refreshDensity();
  const b = await backend;
  // the first load draws: a sample grid for the default model, and the compare view of the richest data set
  await refreshSample();
  await refreshCompare();
  setStatus(`${app.index.models.length} models available; running on ${b.backend}`);
  document.body.dataset.ready = 'true';
}

// for the status of downloads (tests read it too)
Object.assign(globalThis, { edgegenFetchStats: fetchStats });
void main();
