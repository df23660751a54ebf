/**
 * The validation hook: zod's issues, as the API's error codes. @hono/zod-openapi
 * calls it whenever a request's params, query, headers or body fail their
 * schema (routes.ts); the first issue becomes one 400 in the documented shape,
 * with the codes the hand-written validators used to answer.
 */
import type { OpenAPIHonoOptions } from '@hono/zod-openapi';
import type { z } from 'zod';
import { FLOAT32_MAX } from '../core/contract';
import type { AppEnv } from './body';
import { HttpError, badRequest } from './errors';

const TARGET_NAME: Record<string, string> = { json: 'body', query: 'query', param: 'path', header: 'header' };

/** `body.x[0][1]`, `query.format` */
function where(target: string, path: readonly PropertyKey[]): string {
  let out = TARGET_NAME[target] ?? target;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

export function issueError(issue: z.core.$ZodIssue, target: string): HttpError {
  const at = where(target, issue.path);
  switch (issue.code) {
    case 'custom': {
      // matrixProblem (core/contract.ts) names the code itself
      const params = (issue.params ?? {}) as { code?: 'bad_shape'; limit?: number };
      return badRequest(params.code ?? 'invalid_value', `${at} ${issue.message}`, params.limit);
    }
    case 'unrecognized_keys': {
      const key = issue.keys[0];
      const what = target === 'query' ? 'a parameter of this endpoint' : 'a field of this request';
      return badRequest('unknown_field', `${where(target, [...issue.path, key])} is not ${what}`);
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') return badRequest('bad_shape', `${at} must have at least ${min} item(s)`);
      if (issue.origin === 'string') return badRequest('invalid_value', min === 1 ? `${at} must not be empty` : `${at} must be at least ${min} characters`);
      if (min === -FLOAT32_MAX) return badRequest('out_of_range', `${at} is beyond float32`, FLOAT32_MAX);
      return badRequest('out_of_range', `${at} must be ${issue.inclusive === false ? '>' : '>='} ${min}`, min);
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (max === FLOAT32_MAX) return badRequest('out_of_range', `${at} is beyond float32`, FLOAT32_MAX);
      return badRequest('limit_exceeded', `${at} must be ${issue.inclusive === false ? '<' : '<='} ${max}`, max);
    }
    case 'invalid_value':
      return badRequest('invalid_value', `${at} must be ${issue.values.map(String).join(' or ')}`);
    case 'invalid_type': {
      // JSON's 1e999 parses to Infinity; zod reports it as a wrong type
      const received = (issue as { received?: string }).received;
      if (received === 'Infinity' || received === '-Infinity') return badRequest('not_finite', `${at} must be finite`);
      return badRequest('invalid_type', `${at} must be ${issue.expected === 'int' ? 'an integer' : `of type ${issue.expected}`}`);
    }
    case 'invalid_union': {
      // a value that may take several forms (a label: id, name or list): report the
      // branch of the value's own type, e.g. "must be >= 0" for -1, not "no form matched"
      const fits = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (fits.length) {
        const inner = fits[0][0];
        return issueError({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue, target);
      }
      const expected = issue.errors.map((branch) => branch.find((i) => i.code === 'invalid_type')).map((i) => (i && i.code === 'invalid_type' ? (i.expected === 'int' ? 'an integer' : `a ${i.expected}`) : 'another form'));
      return badRequest('invalid_type', `${at} must be ${[...new Set(expected)].join(' or ')}`);
    }
    case 'invalid_format':
      return badRequest(target === 'header' ? 'bad_shape' : 'invalid_value', `${at} is not in the expected format (${issue.format})`);
    default:
      return badRequest('invalid_value', `${at}: ${issue.message}`);
  }
}

/** The OpenAPIHono default hook: throw the first issue as an HttpError (app.ts's onError answers it). */
export const validationHook: NonNullable<OpenAPIHonoOptions<AppEnv>['defaultHook']> = (result) => {
  if (result.success) return;
  throw issueError(firstIssue(result.error.issues), result.target);
};

/**
 * The issue to answer with: the first, except zod's safe-integer range check
 * (an integer of 2^53 or more) when the field's own bound also failed: "must be
 * <= 1024" tells the caller the field's limit, "<= 9007199254740991" does not.
 */
export function firstIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  const [first] = issues;
  const safeRange = (i: z.core.$ZodIssue) => (i.code === 'too_big' || i.code === 'too_small') && i.origin === 'int' && Math.abs(Number(i.code === 'too_big' ? i.maximum : i.minimum)) === Number.MAX_SAFE_INTEGER;
  if (!safeRange(first)) return first;
  const same = (i: z.core.$ZodIssue) => i.path.length === first.path.length && i.path.every((p, k) => p === first.path[k]);
  return issues.find((i) => i !== first && same(i)) ?? first;
}
