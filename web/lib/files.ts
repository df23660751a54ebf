/**
 * Reading the artifacts (models/index.json, models/<id>/manifest.json and the
 * ONNX files) with relative URLs, so the page works from any static host.
 *
 * ONNX files go through the Cache API, keyed by URL plus the manifest's sha256,
 * so a reload costs no download and a re-export (new hash) is fetched afresh.
 * Every file is checked against the manifest's sha256 before use.
 */
import type { Capability, Manifest, ModelIndex } from '../../core/manifest';

const CACHE_NAME = 'edgegen-models-v1';
export const MODELS_BASE = 'models/';

export type Progress = (loaded: number, total: number, note: string) => void;

export async function loadIndex(): Promise<ModelIndex> {
  const res = await fetch(`${MODELS_BASE}index.json`, { cache: 'no-cache' });
  if (!res.ok) throw new Error(`models/index.json: HTTP ${res.status}`);
  return (await res.json()) as ModelIndex;
}

const manifests = new Map<string, Promise<Manifest>>();
export function loadManifest(id: string): Promise<Manifest> {
  let m = manifests.get(id);
  if (!m) {
    m = fetch(`${MODELS_BASE}${encodeURIComponent(id)}/manifest.json`, { cache: 'no-cache' }).then(async (res) => {
      if (!res.ok) throw new Error(`manifest of ${id}: HTTP ${res.status}`);
      return (await res.json()) as Manifest;
    });
    m.catch(() => manifests.delete(id));
    manifests.set(id, m);
  }
  return m;
}

/** Counts of what came from the network vs the cache, shown in the status bar (and read by tests). */
export const fetchStats = { network: 0, cache: 0, bytes: 0 };

async function sha256Hex(bytes: Uint8Array): Promise<string | null> {
  // crypto.subtle exists only in secure contexts (https, localhost)
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function openCache(): Promise<Cache | null> {
  try {
    return 'caches' in globalThis ? await caches.open(CACHE_NAME) : null;
  } catch {
    return null; // e.g. opaque origins, private modes
  }
}

/** Streams a response body, reporting progress against `total` (from the manifest when the server sends no length). */
async function readWithProgress(res: Response, total: number, onProgress: Progress, note: string): Promise<Uint8Array> {
  const length = Number(res.headers.get('content-length')) || total;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress(loaded, length, note);
  }
  const out = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** The bytes of one capability's graph: from the cache when present, else the network; sha256-verified either way. */
export async function loadGraph(manifest: Manifest, capability: Capability, onProgress: Progress): Promise<Uint8Array> {
  const entry = manifest.files.find((f) => f.capability === capability);
  if (!entry) throw new Error(`${manifest.id} has no ${capability} graph`);
  const url = new URL(`${MODELS_BASE}${encodeURIComponent(manifest.id)}/${entry.file}`, document.baseURI);
  const key = `${url.href}?sha256=${entry.sha256}`;
  const note = `${manifest.id}/${entry.file}`;
  const cache = await openCache();

  const cached = cache ? await cache.match(key) : undefined;
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    if ((await sha256Hex(bytes)) !== entry.sha256 && globalThis.crypto?.subtle) {
      await cache?.delete(key); // corrupted entry: drop it and fall through to the network
    } else {
      fetchStats.cache++;
      onProgress(bytes.byteLength, bytes.byteLength, `${note} (cached)`);
      return bytes;
    }
  }

  const res = await fetch(url, { cache: 'no-cache' });
  if (!res.ok) throw new Error(`${note}: HTTP ${res.status}`);
  const bytes = await readWithProgress(res, entry.bytes, onProgress, note);
  const hash = await sha256Hex(bytes);
  if (hash !== null && hash !== entry.sha256) {
    throw new Error(`${note}: sha256 ${hash} does not match the manifest's ${entry.sha256}`);
  }
  fetchStats.network++;
  fetchStats.bytes += bytes.byteLength;
  if (cache) {
    await cache.put(key, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }));
  }
  return bytes;
}
