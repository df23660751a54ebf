/**
 * The models one isolate (Worker) or process (Node) knows: the index, each
 * manifest, and each ONNX session, all loaded lazily on first use and cached.
 * A model file is hashed and compared with its manifest's sha256 before a
 * session is built from it, so a truncated or tampered file is refused with
 * model_corrupt instead of producing wrong numbers; other models keep serving.
 */
import type { Capability, Manifest, ModelIndex } from '../core/manifest';
import { HttpError } from './errors';
import type { ModelSession, Runtime } from './runtime';

const ID = /^[a-z0-9][a-z0-9._-]*$/i;

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

export class ModelStore {
  private index?: Promise<ModelIndex>;
  private manifests = new Map<string, Promise<Manifest>>();
  private sessions = new Map<string, Promise<ModelSession>>();

  constructor(private readonly runtime: Runtime) {}

  list(): Promise<ModelIndex> {
    // a failed load is not cached: the next request tries again
    this.index ??= this.readJson<ModelIndex>('index.json').then(
      (index) => {
        if (!index || !Array.isArray(index.models)) throw new HttpError(500, 'index_missing', 'models/index.json is missing or malformed');
        return index;
      },
    );
    this.index.catch(() => (this.index = undefined));
    return this.index;
  }

  async manifest(id: string): Promise<Manifest> {
    const index = await this.list();
    if (!ID.test(id) || !index.models.some((m) => m.id === id)) {
      throw new HttpError(404, 'model_not_found', `no model named '${id}'; GET /v1/models lists them`);
    }
    let pending = this.manifests.get(id);
    if (!pending) {
      pending = this.readJson<Manifest>(`${id}/manifest.json`).then((m) => {
        if (!m || m.id !== id) throw new HttpError(500, 'model_corrupt', `manifest of '${id}' is missing or names another model`);
        return m;
      });
      pending.catch(() => this.manifests.delete(id));
      this.manifests.set(id, pending);
    }
    return pending;
  }

  /** 422 with the manifest's reason when the family lacks the capability. */
  require(m: Manifest, capability: Capability, what: string = capability): void {
    if (!m.capabilities.includes(capability)) {
      const why = m.unavailable?.[capability] ?? `${m.family} models do not offer ${capability}`;
      throw new HttpError(422, 'capability_unavailable', `${m.id} cannot ${what}: ${why}`);
    }
  }

  session(m: Manifest, capability: Capability): Promise<ModelSession> {
    this.require(m, capability);
    const key = `${m.id}/${capability}`;
    let pending = this.sessions.get(key);
    if (!pending) {
      pending = this.openSession(m, capability);
      // corrupt files are not cached either: a redeploy that fixes them is picked up
      pending.catch(() => this.sessions.delete(key));
      this.sessions.set(key, pending);
    }
    return pending;
  }

  private async openSession(m: Manifest, capability: Capability): Promise<ModelSession> {
    const entry = m.files.find((f) => f.capability === capability);
    if (!entry) throw new HttpError(500, 'model_corrupt', `manifest of '${m.id}' lists ${capability} but names no file for it`);
    const bytes = await this.runtime.loadBytes(`${m.id}/${entry.file}`);
    if (!bytes) throw new HttpError(500, 'model_corrupt', `${m.id}/${entry.file} is missing`);
    const actual = await sha256Hex(bytes);
    if (bytes.length !== entry.bytes || actual !== entry.sha256) {
      throw new HttpError(
        500,
        'model_corrupt',
        `${m.id}/${entry.file} does not match its manifest (sha256 ${actual.slice(0, 12)}..., ${bytes.length} bytes; expected ${entry.sha256.slice(0, 12)}..., ${entry.bytes} bytes)`,
      );
    }
    try {
      return await this.runtime.createSession(bytes);
    } catch (err) {
      throw new HttpError(500, 'model_corrupt', `${m.id}/${entry.file} could not be loaded: ${(err as Error).message}`);
    }
  }

  private async readJson<T>(path: string): Promise<T | null> {
    const bytes = await this.runtime.loadBytes(path);
    if (!bytes) return null;
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch {
      throw new HttpError(500, 'model_corrupt', `${path} is not valid JSON`);
    }
  }
}
