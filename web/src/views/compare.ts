/**
 * View 2: every family trained on one data set, side by side: samples, and for
 * 2-D models the density on a grid under them (or why there is none), then the
 * table of what each family is, built from the family descriptors
 * (core/families/) and the manifests.
 */
import { FAMILY_ORDER, familyOf } from '../../../core/families';
import type { Manifest } from '../../../core/manifest';
import type { Family } from '../../../core/spec';
import { samplePasses } from '../../../core/protocol';
import { $, app, guarded, intValue, isImage, setStatus, where } from '../app';
import { metricSentences } from '../metrics';
import { boxFor, drawImageGrid, drawScatter, gridPoints } from '../draw';

const HEAT_RES = 48;

export function initCompare(): void {
  $<HTMLFormElement>('compare-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void guarded('Compare', run);
  });
}

/** Fills the data-set list (the one with the most families first) and draws it: the view is never blank. */
export async function refreshCompare(): Promise<void> {
  const sel = $<HTMLSelectElement>('compare-dataset');
  const current = sel.value;
  const families = (d: string) => new Set(app.index.models.filter((m) => m.dataset === d).map((m) => m.family)).size;
  const datasets = [...new Set(app.index.models.map((m) => m.dataset))].sort((a, b) => families(b) - families(a));
  sel.replaceChildren(...datasets.map((d) => new Option(d, d)));
  if (datasets.includes(current)) sel.value = current;
  await guarded('Compare', run);
}

async function run(): Promise<void> {
  const dataset = $<HTMLSelectElement>('compare-dataset').value;
  const seed = intValue('compare-seed', 0);
  const ids = app.index.models.filter((m) => m.dataset === dataset).map((m) => m.id);
  const manifests = await Promise.all(ids.map((id) => app.manifest(id)));
  manifests.sort((a, b) => FAMILY_ORDER.indexOf(a.family) - FAMILY_ORDER.indexOf(b.family) || a.id.localeCompare(b.id));
  const cards = $('compare-cards');
  cards.replaceChildren();
  await renderTable(manifests);
  for (const m of manifests) {
    const card = document.createElement('article');
    card.className = 'card';
    card.dataset.model = m.id;
    card.dataset.family = m.family;
    const h = document.createElement('h3');
    h.textContent = `${m.id}: ${familyOf(m.family).title}`;
    const canvas = document.createElement('canvas');
    canvas.setAttribute('aria-label', `Samples from ${m.id}`);
    const note = document.createElement('p');
    note.className = 'note';
    card.append(h, canvas, note);
    cards.append(card);
    setStatus(`comparing: ${m.id} ${where()}…`);
    try {
      await renderCard(m, seed, canvas, note);
      card.dataset.state = 'done';
    } catch (err) {
      note.textContent = `failed: ${err instanceof Error ? err.message : String(err)}`;
      note.classList.add('error');
      card.dataset.state = 'error';
    }
  }
  setStatus(`compared ${manifests.length} models on ${dataset} ${where()}`);
}

async function renderCard(m: Manifest, seed: number, canvas: HTMLCanvasElement, note: HTMLElement): Promise<void> {
  const engine = app.engine();
  const lines: string[] = [];
  const passes = samplePasses(m);
  if (isImage(m) && m.classes) {
    // a class-conditional model: one row per class, the same seed (so the same latents) in every row
    const C = m.classes.names.length;
    const per = 6;
    const rows: Float32Array[] = [];
    let ms = 0;
    for (let y = 0; y < C; y++) {
      const r = await engine.sample(m, { n: per, seed, mode: 'mean', label: y });
      rows.push(...r.rows);
      ms += r.ms;
    }
    drawImageGrid(canvas, rows, m.shape, per, 2);
    lines.push(`One row per class (${m.classes.names.join(', ')}), ${per} samples each with the same latents: ${ms.toFixed(1)} ms.`);
  } else if (isImage(m)) {
    const n = 16;
    const { rows, ms } = await engine.sample(m, { n, seed, mode: 'mean' });
    drawImageGrid(canvas, rows, m.shape, Math.ceil(Math.sqrt(n)), 2);
    lines.push(`${n} samples in ${ms.toFixed(1)} ms${passes > 1 ? ', drawn pixel by pixel (one run of a graph that loops over the pixels)' : ''}.`);
  } else {
    const { rows, ms } = await engine.sample(m, { n: 500, seed, mode: 'sample' });
    lines.push(`500 samples in ${ms.toFixed(1)} ms${passes > 1 ? ` (drawn one dimension at a time)` : ''}.`);
    const box = boxFor(m.range, rows);
    let heat: { logp: number[]; res: number } | undefined;
    if (m.capabilities.includes('density')) {
      const res = await engine.density(m, gridPoints(box, HEAT_RES), { seed, k: 8 });
      heat = { logp: res.logp, res: HEAT_RES };
      lines.push(`Heat-map: ${res.kind === 'exact' ? 'exact log p(x)' : `${res.kind.toUpperCase()} bound on log p(x) (K = 8)`} on a ${HEAT_RES}×${HEAT_RES} grid, ${res.ms.toFixed(1)} ms.`);
    }
    drawScatter(canvas, rows, box, heat);
  }
  for (const [cap, why] of Object.entries(m.unavailable)) lines.push(`No ${cap === 'encode' ? 'encoder' : cap}: ${why}.`);
  lines.push(...metricSentences(m));
  note.textContent = lines.join(' ');
}

/** What each family is, one column per family; families with models on this data set are highlighted. */
async function renderTable(manifests: Manifest[]): Promise<void> {
  const families = FAMILY_ORDER;
  const present = new Set(manifests.map((m) => m.family));
  const row = (head: string, cells: string[]): HTMLTableRowElement => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = head;
    tr.append(th, ...cells.map((c) => Object.assign(document.createElement('td'), { textContent: c })));
    return tr;
  };
  const headRow = document.createElement('tr');
  headRow.append(document.createElement('th'));
  for (const f of families) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = familyOf(f).title;
    if (present.has(f)) th.className = 'present';
    headRow.append(th);
  }
  const modelsOf = (f: Family): Manifest[] => manifests.filter((m) => m.family === f);
  const thead = document.createElement('thead');
  thead.append(headRow);
  const tbody = document.createElement('tbody');
  tbody.append(
    row('z -> x', families.map((f) => familyOf(f).traits.decoder)),
    row('training loss', families.map((f) => familyOf(f).traits.training)),
    row('log p(x)', families.map((f) => familyOf(f).traits.logp)),
    row('x -> z', families.map((f) => familyOf(f).traits.inverse)),
    row('models here', families.map((f) => modelsOf(f).map((m) => m.id).join(', ') || '—')),
    row('capabilities', families.map((f) => modelsOf(f).map((m) => m.capabilities.join(' / ')).join('; ') || '—')),
    row('held-out', families.map((f) => modelsOf(f).map((m) => `${m.id}: ${metricSentences(m).join(' ')}`).join(' ') || '—')),
  );
  $('traits').replaceChildren(thead, tbody);
}
