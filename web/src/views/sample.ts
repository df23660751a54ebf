/** View 1: draw samples for (model, seed, temperature, count) and plot them. */
import { FAMILY_ORDER } from '../../../core/families';
import type { Dtype } from '../../../core/manifest';
import { dtypeOf, takesObservationNoise } from '../../../core/protocol';
import { $, app, fillModelSelect, guarded, intValue, isImage, numValue, setStatus, where } from '../app';
import { boxFor, drawImageGrid, drawScatter } from '../draw';
import type { Mode } from '../engine';

export function initSample(): void {
  const form = $<HTMLFormElement>('sample-form');
  const modelSel = $<HTMLSelectElement>('sample-model');
  const syncMode = async (): Promise<void> => {
    const id = modelSel.value;
    // the temperature the API would draw at for this model when a request names none (set before any await, so a
    // value typed right after choosing the model is never overwritten)
    $<HTMLInputElement>('sample-temp').value = String(app.index.models.find((e) => e.id === id)?.sampleTemperature ?? 1);
    const m = id ? await app.manifest(id) : null;
    $('sample-mode-label').hidden = !m || !takesObservationNoise(m);
    // class-conditional models: pick a class, or let the seed draw each row's from the prior
    const classes = m?.classes?.names ?? [];
    $('sample-label-label').hidden = classes.length === 0;
    const labelSel = $<HTMLSelectElement>('sample-label');
    const kept = labelSel.value;
    const option = (value: string, text: string) => Object.assign(document.createElement('option'), { value, textContent: text });
    labelSel.replaceChildren(option('', 'any (drawn from p(y))'), ...classes.map((name, i) => option(String(i), name === String(i) ? name : `${i}: ${name}`)));
    if ([...labelSel.options].some((o) => o.value === kept)) labelSel.value = kept;
    // a sampler shipped in more than one precision: choose one, starting at the one the API answers by default
    // (a choice made stays while the model does)
    const dtypes = m?.dtypes ?? ['float32'];
    $('sample-dtype-label').hidden = dtypes.length < 2;
    const dtypeSel = $<HTMLSelectElement>('sample-dtype');
    const chosen = dtypeSel.dataset.model === id ? dtypeSel.value : undefined;
    dtypeSel.replaceChildren(...dtypes.map((d) => option(d, d === 'int8' ? 'int8 (smaller file)' : d)));
    dtypeSel.dataset.model = id;
    if (m) dtypeSel.value = chosen && dtypes.includes(chosen as Dtype) ? chosen : dtypeOf(m);
  };
  modelSel.addEventListener('change', () => void syncMode());
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void guarded('Sample', run);
  });
  fillModelSelect(modelSel);
  void syncMode();
}

/** Fills the model list, choosing an image model first (a grid says more than points), and draws it. */
export async function refreshSample(): Promise<void> {
  const sel = $<HTMLSelectElement>('sample-model');
  const fresh = !sel.value;
  fillModelSelect(sel);
  if (fresh) {
    const image = FAMILY_ORDER.map((f) => app.index.models.find((m) => m.family === f && m.shape.length === 2)).find(Boolean);
    if (image) sel.value = image.id;
  }
  sel.dispatchEvent(new Event('change'));
  await guarded('Sample', run);
}

async function run(): Promise<void> {
  const id = $<HTMLSelectElement>('sample-model').value;
  if (!id) throw new Error('no model selected');
  const m = await app.manifest(id);
  const req = {
    n: intValue('sample-n', 64, 1, 1024),
    seed: intValue('sample-seed', 0),
    temperature: Math.max(0, numValue('sample-temp', 1)),
    mode: $<HTMLSelectElement>('sample-mode').value as Mode,
    ...(m.classes && $<HTMLSelectElement>('sample-label').value !== '' ? { label: Number($<HTMLSelectElement>('sample-label').value) } : {}),
    // the precision chosen for this model (a model switched a moment ago may not have filled the list yet: its default)
    ...((m.dtypes ?? []).length > 1 ? { dtype: $<HTMLSelectElement>('sample-dtype').dataset.model === id ? ($<HTMLSelectElement>('sample-dtype').value as Dtype) : dtypeOf(m) } : {}),
  };
  const engine = app.engine();
  setStatus(`sampling ${m.id} ${where()}…`);
  const { rows, ms } = await engine.sample(m, req);
  const canvas = $<HTMLCanvasElement>('sample-canvas');
  if (isImage(m)) drawImageGrid(canvas, rows, m.shape, Math.ceil(Math.sqrt(rows.length)));
  else drawScatter(canvas, rows, boxFor(m.range, rows), undefined, 400);
  const cls = 'label' in req && req.label !== undefined ? `, class ${m.classes!.names[req.label]}` : '';
  const precision = 'dtype' in req ? `, ${req.dtype}` : '';
  $('sample-info').textContent = `${rows.length} samples of ${m.id}${cls}${precision}, seed ${req.seed}, temperature ${req.temperature}: ${ms.toFixed(1)} ms ${where()}`;
  $('sample-json').textContent = JSON.stringify({ id: m.id, engine: engine.name, ...req, samples: rows.map((r) => Array.from(r)) });
  $('sample-info').dataset.engine = engine.name;
  setStatus(`sampled ${m.id} ${where()} in ${ms.toFixed(1)} ms`);
}
