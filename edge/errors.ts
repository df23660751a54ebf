/** Every error the API answers has this shape: { error: { code, message, limit? } } (core/contract.ts `ApiError`). */
import type { ApiError } from '../core/api';
import { ERROR_CODES, type ErrorCode } from '../core/contract';

export class HttpError extends Error {
  readonly status: (typeof ERROR_CODES)[ErrorCode];

  constructor(
    status: number,
    readonly code: ErrorCode,
    message: string,
    readonly limit?: number,
    /** headers the answer carries besides the JSON (503: retry-after) */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    // the status goes with the code (core/contract.ts); a mismatch is a bug here, not in the request
    if (status !== ERROR_CODES[code]) throw new Error(`error code ${code} is ${ERROR_CODES[code]}, not ${status}`);
    this.status = ERROR_CODES[code];
  }

  body(): ApiError {
    const error: ApiError['error'] = { code: this.code, message: this.message };
    if (this.limit !== undefined) error.limit = this.limit;
    return { error };
  }
}

export const badRequest = (code: ErrorCode, message: string, limit?: number) => new HttpError(400, code, message, limit);
