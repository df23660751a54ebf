/**
 * The contract itself: /openapi.json is a valid OpenAPI 3.1 document (checked
 * by @seriousme/openapi-schema-validator, and every schema in it compiles under
 * Ajv's strict JSON Schema 2020-12), it describes every answer (model list,
 * manifests, health, binary formats, errors), and the zod schemas agree with core/'s types.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type * as C from '../core/contract';
import { ERROR_CODES } from '../core/contract';
import type { Manifest, ModelIndex } from '../core/manifest';
import { createApp } from './app';
import { nodeRuntime } from './node';
import { documentSchemas } from './docschema';
import { MODELS } from './testing';

const app = createApp(nodeRuntime(MODELS));
const getDoc = async () => (await (await app.request('/openapi.json')).json()) as any;
const POSTS = ['sample', 'density', 'encode', 'decode', 'interpolate'];

describe('the OpenAPI document', () => {
  it('validates as OpenAPI 3.1, and every schema in it compiles under strict JSON Schema 2020-12', async () => {
    const doc = await getDoc();
    const validator = new Validator();
    const res = await validator.validate(doc);
    expect(res.errors ?? [], JSON.stringify(res.errors)).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    const schemas = documentSchemas(doc);
    let compiled = 0;
    // every `schema` object anywhere under paths; leaves (strings, numbers, null) hold none
    const visit = (node: any): void => {
      if (node?.schema && typeof node.schema === 'object') {
        expect(() => schemas.compile(node.schema)).not.toThrow();
        compiled++;
      }
      if (node && typeof node === 'object') for (const v of Object.values(node)) visit(v);
    };
    visit(doc.paths);
    expect(compiled).toBeGreaterThan(40);
  });

  it('describes every answer: model list, manifest, health, binary formats, and errors with an enum of codes', async () => {
    const doc = await getDoc();
    const schemas = doc.components.schemas;
    const ok = (path: string, method = 'get') => doc.paths[path][method].responses['200'];
    expect(ok('/v1/models').content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ModelList' });
    expect(ok('/v1/models/{id}').content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ModelDetail' });
    expect(ok('/healthz').content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Health' });
    expect(schemas.ModelList.properties.models.items).toEqual({ $ref: '#/components/schemas/ModelEntry' });
    // what a client needs before it calls: the limits and the operations it may ask for
    expect(schemas.ModelEntry.required).toEqual(expect.arrayContaining(['id', 'family', 'shape', 'capabilities', 'limits', 'operations']));
    expect(schemas.ModelDetail.required).toEqual(expect.arrayContaining(['id', 'family', 'shape', 'latentDim', 'capabilities', 'files', 'metrics', 'limits', 'operations']));
    expect(schemas.ModelLimits.required).toEqual(expect.arrayContaining(['sample', 'rows']));
    expect(schemas.Health.required).toEqual(['status', 'runtime', 'models']);
    expect(schemas.Error.properties.error.properties.code.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(schemas.SampleResponse.required).toEqual(expect.arrayContaining(['samples', 'shape', 'seed']));

    const sample = doc.paths['/v1/models/{id}/sample'].post;
    for (const status of ['400', '404', '406', '413', '422', '429', '500']) {
      expect(sample.responses[status]?.content['application/json'].schema, status).toEqual({ $ref: '#/components/schemas/Error' });
    }
    expect(Object.keys(sample.responses['200'].content).sort()).toEqual(['application/json', 'application/octet-stream', 'image/png']);
    for (const p of POSTS) {
      const op = doc.paths[`/v1/models/{id}/${p}`].post;
      expect(op.responses['200'].content['application/octet-stream'].schema.format, p).toBe('binary');
      expect(op.responses['200'].headers['x-edgegen-shape'], p).toBeTruthy();
      const id = op.parameters.find((q: any) => q.name === 'id');
      expect(id.in).toBe('path');
      expect(id.schema.examples.length, p).toBeGreaterThan(0);
      expect(op.parameters.find((q: any) => q.name === 'format').schema.enum, p).toContain('f32');
    }
    // an over-long URL can meet any operation: Node answers it in the error shape (node/client.test.ts)
    for (const item of Object.values<any>(doc.paths)) {
      for (const op of Object.values<any>(item)) expect(op.responses['431'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    }
    // bodies that cannot be empty are required; sample and interpolate default every field
    for (const p of ['density', 'encode', 'decode']) {
      const body = doc.paths[`/v1/models/{id}/${p}`].post.requestBody;
      expect(body.required, p).toBe(true);
      expect(body.content['application/octet-stream'].schema.format, p).toBe('binary');
    }
    for (const p of ['sample', 'interpolate']) expect(doc.paths[`/v1/models/{id}/${p}`].post.requestBody.required, p).toBe(false);
  });
});

describe('the types', () => {
  it("core/api.ts and core/manifest.ts agree with the schemas (checked by the compiler)", () => {
    expectTypeOf<z.output<typeof C.Manifest>>().toEqualTypeOf<Manifest>();
    // the list answers each index entry with its limits and operations (engine.ts limitsOf)
    expectTypeOf<Omit<z.output<typeof C.ModelList>['models'][number], 'limits' | 'operations'>>().toEqualTypeOf<ModelIndex['models'][number]>();
    expectTypeOf<Omit<z.output<typeof C.ModelDetail>, 'limits' | 'operations'>>().toEqualTypeOf<Manifest>();
    expectTypeOf<import('../core/api').SampleResponse>().toEqualTypeOf<{ samples: number[][]; shape: number[]; seed: number }>();
    expectTypeOf<import('../core/api').DensityRequest>().toEqualTypeOf<{ x: number[][]; k?: number; seed?: number }>();
  });
});
