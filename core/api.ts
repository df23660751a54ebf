/**
 * HTTP API types shared by edge/ (which serves them) and web/ (which calls them).
 * All under /v1 (edge/README.md lists the endpoints). Rows are flattened samples; `shape`
 * says how to view one row.
 */
import type { z } from 'zod';
import type * as C from './contract';
import type { Manifest } from './manifest';

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

// The request and answer types are inferred from the zod schemas in
// contract.ts, the same definitions edge/ validates with and documents; the
// import is type-only, so this file loads nothing at run time.
type In<S extends z.ZodType> = z.input<S>;
type Out<S extends z.ZodType> = z.output<S>;

/** what a caller may send (fields with defaults are optional) */
export type SampleRequest = In<typeof C.SampleRequest>;
export type DensityRequest = In<typeof C.DensityRequest>;
export type EncodeRequest = In<typeof C.EncodeRequest>;
export type DecodeRequest = In<typeof C.DecodeRequest>;
export type InterpolateRequest = In<typeof C.InterpolateRequest>;
export type ScoreRequest = In<typeof C.ScoreRequest>;
export type ClassifyRequest = In<typeof C.ClassifyRequest>;

export type SampleResponse = Out<typeof C.SampleResponse>;
export type DensityResponse = Out<typeof C.DensityResponse>;
export type EncodeResponse = Out<typeof C.EncodeResponse>;
export type DecodeResponse = Out<typeof C.SamplesResponse>;
export type InterpolateResponse = Out<typeof C.SamplesResponse>;
export type HealthResponse = Out<typeof C.Health>;
export type ScoreResponse = Out<typeof C.ScoreResponse>;
export type ClassifyResponse = Out<typeof C.ClassifyResponse>;
export type ModelLimits = Out<typeof C.ModelLimits>;
export type ModelEntry = Out<typeof C.ModelEntry>;
export type ModelDetail = Out<typeof C.ModelDetail>;
export type Operation = Out<typeof C.Operation>;

export type ApiError = Out<typeof C.ApiError>;
export type ErrorCode = C.ErrorCode;

export type ModelInfo = Manifest;
