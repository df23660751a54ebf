/**
 * Tiny validators that both check a request body and describe themselves as
 * JSON Schema, so /openapi.json is generated from the very objects that guard
 * the handlers and cannot drift from them. No dependency: a handful of
 * combinators is all the API needs.
 */
import { badRequest } from './errors';

export type JsonSchema = Record<string, unknown>;

export interface Validator<T> {
  parse(value: unknown, path: string): T;
  readonly schema: JsonSchema;
  /** absent fields are allowed (the parsed value is the default or undefined) */
  readonly optional: boolean;
}

type Described = { description?: string };

/** The largest finite float32; the models compute in float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function numberLike(
  kind: 'integer' | 'number',
  opts: Described & { min: number; max: number; default?: number },
): Validator<number> {
  const schema: JsonSchema = { type: kind, minimum: opts.min, maximum: opts.max };
  if (opts.default !== undefined) schema.default = opts.default;
  if (opts.description) schema.description = opts.description;
  return {
    schema,
    optional: opts.default !== undefined,
    parse(value, path) {
      if (value === undefined && opts.default !== undefined) return opts.default;
      if (typeof value !== 'number') throw badRequest('invalid_type', `${path} must be a number, got ${typeName(value)}`);
      if (!Number.isFinite(value)) throw badRequest('not_finite', `${path} must be finite`);
      if (kind === 'integer' && !Number.isInteger(value)) throw badRequest('invalid_type', `${path} must be an integer`);
      if (value < opts.min) throw badRequest('out_of_range', `${path} must be >= ${opts.min}`, opts.min);
      if (value > opts.max) throw badRequest('limit_exceeded', `${path} must be <= ${opts.max}`, opts.max);
      return value;
    },
  };
}

export const int = (opts: Described & { min: number; max: number; default?: number }) => numberLike('integer', opts);
export const num = (opts: Described & { min: number; max: number; default?: number }) => numberLike('number', opts);

/** A field that may be left out; parses to undefined then. */
export function optional<T>(inner: Validator<T>): Validator<T | undefined> {
  return {
    schema: inner.schema,
    optional: true,
    parse: (value, path) => (value === undefined ? undefined : inner.parse(value, path)),
  };
}

export function oneOf<T extends string>(values: readonly T[], opts: Described & { default: T }): Validator<T> {
  const schema: JsonSchema = { type: 'string', enum: [...values], default: opts.default };
  if (opts.description) schema.description = opts.description;
  return {
    schema,
    optional: true,
    parse(value, path) {
      if (value === undefined) return opts.default;
      if (typeof value !== 'string' || !values.includes(value as T)) {
        throw badRequest('invalid_value', `${path} must be one of ${values.join(', ')}`);
      }
      return value as T;
    },
  };
}

/**
 * A non-empty rectangular matrix of finite numbers with at most maxRows rows.
 * The width each model expects is checked by the handler, which knows the model.
 */
export function matrix(opts: Described & { maxRows: number }): Validator<number[][]> {
  const schema: JsonSchema = {
    type: 'array',
    minItems: 1,
    maxItems: opts.maxRows,
    items: { type: 'array', minItems: 1, items: { type: 'number' } },
  };
  if (opts.description) schema.description = opts.description;
  return {
    schema,
    optional: false,
    parse(value, path) {
      if (!Array.isArray(value)) throw badRequest('invalid_type', `${path} must be an array of rows, got ${typeName(value)}`);
      if (value.length === 0) throw badRequest('bad_shape', `${path} must have at least one row`);
      if (value.length > opts.maxRows) {
        throw badRequest('limit_exceeded', `${path} has ${value.length} rows; at most ${opts.maxRows} allowed`, opts.maxRows);
      }
      let width = -1;
      value.forEach((row, i) => {
        if (!Array.isArray(row)) throw badRequest('invalid_type', `${path}[${i}] must be an array of numbers`);
        if (width < 0) width = row.length;
        if (row.length !== width || width === 0) {
          throw badRequest('bad_shape', `${path} must be rectangular: row ${i} has ${row.length} values, row 0 has ${width}`);
        }
        for (let j = 0; j < row.length; j++) {
          const x = row[j];
          if (typeof x !== 'number') throw badRequest('invalid_type', `${path}[${i}][${j}] must be a number`);
          if (!Number.isFinite(x)) throw badRequest('not_finite', `${path}[${i}][${j}] must be finite`);
          // models compute in float32: a larger magnitude would silently become Infinity
          if (Math.abs(x) > FLOAT32_MAX) {
            throw badRequest('out_of_range', `${path}[${i}][${j}] = ${x} is beyond float32 (|x| <= ${FLOAT32_MAX})`, FLOAT32_MAX);
          }
        }
      });
      return value as number[][];
    },
  };
}

type Fields = Record<string, Validator<unknown>>;
type Parsed<F extends Fields> = { [K in keyof F]: F[K] extends Validator<infer T> ? T : never };

/** A JSON object with exactly these fields; unknown fields are refused so typos do not pass silently. */
export function object<F extends Fields>(fields: F, opts: Described = {}): Validator<Parsed<F>> {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, v] of Object.entries(fields)) {
    properties[name] = v.schema;
    if (!v.optional) required.push(name);
  }
  const schema: JsonSchema = { type: 'object', properties, additionalProperties: false };
  if (required.length) schema.required = required;
  if (opts.description) schema.description = opts.description;
  return {
    schema,
    optional: false,
    parse(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw badRequest('invalid_type', `${path} must be a JSON object, got ${typeName(value)}`);
      }
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        // own keys only: '__proto__', 'constructor' or 'toString' are not fields either
        if (!Object.hasOwn(fields, key)) throw badRequest('unknown_field', `${path}.${key} is not a field of this request`);
      }
      const out: Record<string, unknown> = {};
      for (const [name, v] of Object.entries(fields)) {
        out[name] = v.parse(Object.hasOwn(record, name) ? record[name] : undefined, `${path}.${name}`);
      }
      return out as Parsed<F>;
    },
  };
}

/**
 * The work budget of one request: every endpoint states what it would cost in
 * float "units" (rows x importance draws x values per row, see schemas.ts), and
 * a request over the budget is refused before any model runs, so no single
 * request can ask for more than a fixed amount of work whatever the model.
 */
export function checkBudget(units: number, budget: number, what: string): void {
  if (!(units <= budget)) {
    throw badRequest('over_budget', `this request asks for ${what} = ${units}; at most ${budget} per request`, budget);
  }
}
