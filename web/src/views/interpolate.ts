/** View 3: spherical interpolation (slerp, as the API) in latent space between the latents of two seeds. */
import { $, app, fillModelSelect, guarded, intValue, isImage, numValue, setStatus, where } from '../app';
import { boxFor, drawImageGrid, drawScatter } from '../draw';
import { drawLabels } from '../../../core/prng';
import { interpolateLatents, latentFor } from '../engine';

export function initInterpolate(): void {
  // the temperature the API would draw at for this model when a request names none
  $<HTMLSelectElement>('interp-model').addEventListener('change', (ev) => {
    const m = app.index.models.find((e) => e.id === (ev.target as HTMLSelectElement).value);
    $<HTMLInputElement>('interp-temp').value = String(m?.sampleTemperature ?? 1);
  });
  $<HTMLFormElement>('interp-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void guarded('Interpolate', run);
  });
}

export function refreshInterpolate(): void {
  fillModelSelect($<HTMLSelectElement>('interp-model'), (m) => m.capabilities.includes('sample'));
}

async function run(): Promise<void> {
  const id = $<HTMLSelectElement>('interp-model').value;
  if (!id) throw new Error('no model selected');
  const m = await app.manifest(id);
  const a = intValue('interp-a', 1);
  const b = intValue('interp-b', 2);
  const steps = intValue('interp-steps', 10, 2, 64);
  const temperature = Math.max(0, numValue('interp-temp', 1));
  const zs = interpolateLatents(latentFor(m, a, temperature), latentFor(m, b, temperature), steps);
  setStatus(`interpolating ${m.id} ${where()}…`);
  // conditional models: the whole path in the class seed a draws (as the API's interpolate), so only the style moves
  const label = m.classes ? drawLabels(a, 1, m.classes.prior)[0] : undefined;
  const { rows, ms } = await app.engine().decode(m, zs, label);
  const canvas = $<HTMLCanvasElement>('interp-canvas');
  if (isImage(m)) drawImageGrid(canvas, rows, m.shape, steps, 3);
  else drawScatter(canvas, rows, boxFor(m.range, rows), undefined, 400, true);
  $('interp-info').textContent = `${steps} steps from seed ${a} to seed ${b}: ${ms.toFixed(1)} ms ${where()}`;
  $('interp-json').textContent = JSON.stringify({ id: m.id, engine: app.engine().name, a, b, steps, temperature, samples: rows.map((r) => Array.from(r)) });
  setStatus(`interpolated ${m.id} ${where()}`);
}
