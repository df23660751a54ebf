/**
 * Reading a model's artifacts: models/index.json, <id>/manifest.json and the
 * ONNX files beside the manifest, all by URL (relative ones resolve against
 * the page), so a model works from any static host or sub-path.
 *
 * ONNX files go through the Cache API, keyed by the manifest's sha256 alone:
 * a reload costs no download, a re-export (new hash) is fetched afresh, and
 * the same bytes are one entry wherever they were served from. Every file is
 * checked against the manifest's sha256 before use, cached or not (where
 * crypto.subtle exists: secure contexts only, https or localhost).
 */
import type { Capability, Dtype, Manifest, ModelIndex } from '../../core/manifest';
import { graphEntry } from '../../core/protocol';

const CACHE_NAME = 'edgegen-models-v1';
/** Cache keys are never fetched: a reserved host (RFC 2606) makes that plain. */
const CACHE_KEY_BASE = 'https://edgegen.invalid/sha256/';

/** One report of a file's download: `loaded` of `total` bytes; `done` once, at the end, with `cached` when no download was needed. */
export interface ProgressInfo {
  /** `<model id>/<file>` */
  file: string;
  loaded: number;
  total: number;
  done: boolean;
  cached: boolean;
}
export type Progress = (p: ProgressInfo) => void;

/** The folder of models/index.json: `models/` beside the page, unless told otherwise. */
export function modelsBase(baseUrl?: string | URL): URL {
  const here = globalThis.document?.baseURI ?? globalThis.location?.href;
  const base = new URL(baseUrl ?? 'models/', here);
  // a base without its trailing slash would lose its last segment when ids resolve against it
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return base;
}

/** The models a folder offers (its index.json). */
export async function listModels(baseUrl?: string | URL): Promise<ModelIndex> {
  const url = new URL('index.json', modelsBase(baseUrl));
  const res = await fetch(url, { cache: 'no-cache' });
  if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status}`);
  return (await res.json()) as ModelIndex;
}

/** The manifest URL of a model id under a models folder. */
export const manifestUrl = (id: string, baseUrl?: string | URL): URL => new URL(`${encodeURIComponent(id)}/manifest.json`, modelsBase(baseUrl));

const manifests = new Map<string, Promise<Manifest>>();
/** A manifest by URL, fetched once per page (a failed fetch is retried next time). */
export function fetchManifest(url: URL): Promise<Manifest> {
  let m = manifests.get(url.href);
  if (!m) {
    m = fetch(url, { cache: 'no-cache' }).then(async (res) => {
      if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status}`);
      return (await res.json()) as Manifest;
    });
    m.catch(() => manifests.delete(url.href));
    manifests.set(url.href, m);
  }
  return m;
}

async function sha256Hex(bytes: Uint8Array): Promise<string | null> {
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
async function readWithProgress(res: Response, total: number, report: (loaded: number, total: number) => void): Promise<Uint8Array> {
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
    report(loaded, length);
  }
  const out = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/**
 * The bytes of one capability's graph in `dtype` (default float32), from
 * beside its manifest: from the cache when present (and `cache` is on), else
 * the network; sha256-checked either way.
 */
export async function fetchGraph(manifest: Manifest, base: URL, capability: Capability, opts: { cache?: boolean; onProgress?: Progress; dtype?: Dtype } = {}): Promise<Uint8Array> {
  const dtype = opts.dtype ?? 'float32';
  const entry = graphEntry(manifest, capability, dtype);
  if (!entry) throw new Error(`${manifest.id} has no ${dtype === 'float32' ? '' : `${dtype} `}${capability} graph${dtype === 'float32' ? '' : `: its sampler's dtypes are ${(manifest.dtypes ?? ['float32']).join(', ')}`}`);
  const url = new URL(entry.file, base);
  const file = `${manifest.id}/${entry.file}`;
  const report = opts.onProgress ?? (() => {});
  const cache = opts.cache === false ? null : await openCache();
  const key = `${CACHE_KEY_BASE}${entry.sha256}`;

  const cached = cache ? await cache.match(key) : undefined;
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    const hash = await sha256Hex(bytes);
    if (hash === null || hash === entry.sha256) {
      report({ file, loaded: bytes.byteLength, total: bytes.byteLength, done: true, cached: true });
      return bytes;
    }
    await cache!.delete(key); // a corrupted entry: drop it and fall through to the network
  }

  const res = await fetch(url, { cache: 'no-cache' });
  if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status}`);
  const bytes = await readWithProgress(res, entry.bytes, (loaded, total) => report({ file, loaded, total, done: false, cached: false }));
  const hash = await sha256Hex(bytes);
  if (hash !== null && hash !== entry.sha256) {
    throw new Error(`${file}: sha256 ${hash} does not match the manifest's ${entry.sha256}`);
  }
  if (cache) {
    await cache.put(key, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }));
  }
  report({ file, loaded: bytes.byteLength, total: bytes.byteLength, done: true, cached: false });
  return bytes;
}
