/**
 * Checkpoint files on disk, in the core/checkpoint.ts format.
 *
 * Writes are atomic: the bytes go to a temp file in the same folder, are
 * fsync'd, then renamed over the target, so a crash mid-write leaves the last
 * good checkpoint in place. Reads verify magic, length and CRC, and every
 * error names the file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../core';

/** What train/ always records in `meta` (export/ copies it into manifests). */
export interface TrainMeta {
  dataset: string;
  range: [number, number];
  discrete: boolean;
  backend: string;
  device: string;
  seconds: number;
  batchSize: number;
  seed: number;
  command: string;
  metrics: Record<string, number>;
  config: Record<string, unknown>;
  [key: string]: unknown;
}

export function writeCheckpoint(path: string, ck: Checkpoint): void {
  const bytes = encodeCheckpoint(ck);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  // a process killed mid-write (SIGKILL, power loss) leaves its temp file behind;
  // the checkpoint just written supersedes it, so sweep such leftovers
  const prefix = `.${basename(path)}.`;
  for (const f of readdirSync(dirname(path))) {
    if (f.startsWith(prefix) && f.endsWith('.tmp')) rmSync(join(dirname(path), f), { force: true });
  }
}

export function readCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read checkpoint (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return decodeCheckpoint(bytes, path);
}
