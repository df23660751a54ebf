/**
 * The checkpoint file format, shared by train/ (writes and resumes) and export/
 * (reads). One file, so that a write can be made atomic with temp + rename:
 *
 *   bytes 0..3   magic "EGCK"
 *   bytes 4..7   u32 LE: byte length H of the JSON header
 *   bytes 8..8+H UTF-8 JSON `CheckpointHeader`
 *   padding to a multiple of 4, then the float32 LE payload
 *
 * Each tensor in `header.tensors` names its offset (in floats) into the payload.
 * `header.crc32` covers the payload, so a truncated or corrupted file is
 * refused on load instead of producing a silently broken model.
 */
import type { ModelSpec, NamedWeight } from './spec';

export const CHECKPOINT_MAGIC = 'EGCK';
export const CHECKPOINT_FORMAT = 1;

export interface TensorEntry {
  name: string;
  shape: number[];
  /** offset into the float32 payload, in elements */
  offset: number;
}

export interface CheckpointHeader {
  format: number;
  spec: ModelSpec;
  /** model weights and (separately) optimizer state, both as named tensors */
  tensors: TensorEntry[];
  optimizer: TensorEntry[];
  /** training step reached */
  step: number;
  /** free-form: dataset, config, backend, timings, held-out metrics, PRNG state */
  meta: Record<string, unknown>;
  crc32: number;
}

export interface Checkpoint {
  spec: ModelSpec;
  weights: NamedWeight[];
  optimizer: NamedWeight[];
  step: number;
  meta: Record<string, unknown>;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function encodeCheckpoint(ck: Checkpoint): Uint8Array {
  const all = [...ck.weights, ...ck.optimizer];
  let offset = 0;
  const entries = all.map((w) => {
    if (w.data.length !== size(w.shape)) {
      throw new CheckpointError(`tensor ${w.name}: ${w.data.length} values for shape [${w.shape}]`);
    }
    const e = { name: w.name, shape: [...w.shape], offset };
    offset += w.data.length;
    return e;
  });
  const payload = new Float32Array(offset);
  all.forEach((w, i) => payload.set(w.data, entries[i].offset));
  const payloadBytes = new Uint8Array(payload.buffer);
  const header: CheckpointHeader = {
    format: CHECKPOINT_FORMAT,
    spec: ck.spec,
    tensors: entries.slice(0, ck.weights.length),
    optimizer: entries.slice(ck.weights.length),
    step: ck.step,
    meta: ck.meta,
    crc32: crc32(payloadBytes),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = 8 + json.length + ((4 - ((8 + json.length) % 4)) % 4);
  const out = new Uint8Array(start + payloadBytes.length);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  out.set(payloadBytes, start);
  return out;
}

/** Parses and verifies a checkpoint; `source` names the file in error messages. */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== CHECKPOINT_MAGIC) {
    throw new CheckpointError(`${source}: not an edgegen checkpoint (bad magic)`);
  }
  const hlen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + hlen > bytes.length) throw new CheckpointError(`${source}: truncated header`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
  } catch {
    throw new CheckpointError(`${source}: header is not valid JSON`);
  }
  if (header.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${source}: format ${header.format}, this edgegen reads ${CHECKPOINT_FORMAT}`);
  }
  const start = 8 + hlen + ((4 - ((8 + hlen) % 4)) % 4);
  const all = [...header.tensors, ...header.optimizer];
  const total = all.reduce((n, e) => Math.max(n, e.offset + size(e.shape)), 0);
  if (bytes.length - start !== total * 4) {
    throw new CheckpointError(`${source}: payload is ${bytes.length - start} bytes, header expects ${total * 4} (truncated?)`);
  }
  // Copy into a fresh ArrayBuffer of its own: a Node Buffer's slice() is a view into a
  // shared pool, so Float32Array(payloadBytes.buffer) would read the wrong bytes.
  const payloadBytes = new Uint8Array(bytes.subarray(start));
  if (crc32(payloadBytes) !== header.crc32) throw new CheckpointError(`${source}: checksum mismatch (corrupt file)`);
  const payload = new Float32Array(payloadBytes.buffer);
  const read = (e: TensorEntry): NamedWeight => ({
    name: e.name,
    shape: e.shape,
    data: payload.slice(e.offset, e.offset + size(e.shape)),
  });
  return {
    spec: header.spec,
    weights: header.tensors.map(read),
    optimizer: header.optimizer.map(read),
    step: header.step,
    meta: header.meta,
  };
}
