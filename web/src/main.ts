/** Page entry: tabs, backend detection, the API switch, and loading the model list. */
import { detectDevice, listModels, onDeviceChange, type DeviceInfo } from '../lib';
import { $, app, fetchStats, forcedWasm, setStatus } from './app';
import { probeApi } from './engine';
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
  // the device 'auto' uses in this browser, and a later fallback to wasm if the WebGPU build fails
  const showDevice = (d: DeviceInfo): DeviceInfo => {
    const el = $('backend');
    el.textContent = `${d.device === 'webgpu' ? 'WebGPU' : 'WebAssembly (wasm)'} (${d.reason})`;
    el.dataset.backend = d.device;
    return d;
  };
  const device = forcedWasm ? Promise.resolve(showDevice({ device: 'wasm', reason: 'forced by ?ep=wasm' })) : detectDevice().then(showDevice);
  if (!forcedWasm) onDeviceChange(showDevice);
  try {
    app.index = await listModels();
  } catch (err) {
    setStatus(`no models found (${err instanceof Error ? err.message : String(err)}); export some into models/`, true);
    return;
  }
  refreshInterpolate();
  refreshDensity();
  const b = await device;
  // the first load draws: a sample grid for the default model, and the compare view of the richest data set
  await refreshSample();
  await refreshCompare();
  setStatus(`${app.index.models.length} models available; running on ${b.device}`);
  document.body.dataset.ready = 'true';
}

// for the status of downloads (tests read it too)
Object.assign(globalThis, { edgegenFetchStats: fetchStats });
void main();
