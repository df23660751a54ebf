/** Every error the API answers has this shape: { error: { code, message, limit? } }. */
import type { ApiError } from '../core/api';

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 404 | 406 | 413 | 422 | 500,
    readonly code: string,
    message: string,
    readonly limit?: number,
  ) {
    super(message);
  }

  body(): ApiError {
    const error: ApiError['error'] = { code: this.code, message: this.message };
    if (this.limit !== undefined) error.limit = this.limit;
    return { error };
  }
}

export const badRequest = (code: string, message: string, limit?: number) =>
  new HttpError(400, code, message, limit);
