/**
 * HTTP API types shared by edge/ (which serves them) and web/ (which calls them).
 * All under /v1 (edge/README.md lists the endpoints). Rows are flattened samples; `shape`
 * says how to view one row.
 */
import type { DensityKind, Manifest } from './manifest';

export const API_LIMITS = {
  /** most samples one request may ask for */
  maxSamples: 1024,
  /** most rows one density/encode/decode request may send */
  maxRows: 1024,
  /** most importance samples for a VAE IWAE estimate */
  maxImportanceSamples: 1000,
  /** largest request body, bytes */
  maxBodyBytes: 4 * 1024 * 1024,
  /** most interpolation steps */
  maxSteps: 64,
} as const;

export interface SampleRequest {
  n?: number;
  seed?: number;
  temperature?: number;
  /** VAE only: return the decoder mean ('mean') or a draw from p(x|z) ('sample') */
  mode?: 'mean' | 'sample';
}
export interface SampleResponse {
  samples: number[][];
  shape: number[];
  seed: number;
}

export interface DensityRequest {
  x: number[][];
  /** VAE: number of importance samples (1 gives the ELBO) */
  k?: number;
  /** seed for the VAE's eps and for image dequantisation noise */
  seed?: number;
}
export interface DensityResponse {
  logp: number[];
  kind: DensityKind;
  bitsPerDim?: number[];
  /** VAE: the ELBO per row as well */
  elbo?: number[];
}

export interface EncodeRequest { x: number[][] }
export interface EncodeResponse { z: number[][]; logvar?: number[][] }

export interface DecodeRequest { z: number[][]; mode?: 'mean' | 'sample'; seed?: number }
export interface DecodeResponse { samples: number[][]; shape: number[] }

export interface InterpolateRequest { seedA?: number; seedB?: number; steps?: number; temperature?: number }
export interface InterpolateResponse { samples: number[][]; shape: number[] }

export interface ApiError {
  error: { code: string; message: string; limit?: number };
}

export type ModelInfo = Manifest;
