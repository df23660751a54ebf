/**
 * The Worker opens an int8 graph without onnxruntime's graph optimisation
 * (session.ts optimisationFor): its first session then skips folding the int8
 * weights back to float32. That is only a speed choice if the answers stay the
 * same bits, checked here on onnxruntime-web's wasm build (what the Worker
 * runs) for every shipped int8 graph.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { expect, it } from 'vitest';
import type { Manifest, ModelIndex } from '../../core/manifest';
import { MODELS } from '../testing';
import { optimisationFor } from './session';

it('int8 graphs open without graph optimisation, every other graph with all of it', () => {
  expect(optimisationFor({ precision: 'int8' })).toBe('disabled');
  expect(optimisationFor({ precision: 'float32' })).toBe('all');
});

it('every shipped int8 graph gives the same bits at the level the Worker opens it with as with every optimisation', async () => {
  ort.env.wasm.numThreads = 1;
  const index = JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) as ModelIndex;
  const variants = index.models.flatMap((e) => {
    const m = JSON.parse(readFileSync(join(MODELS, e.id, 'manifest.json'), 'utf8')) as Manifest;
    return (m.variants ?? []).filter((v) => v.precision === 'int8').map((v) => ({ id: e.id, file: v.file }));
  });
  expect(variants.length, 'models/ ships an int8 graph').toBeGreaterThan(0);
  for (const { id, file } of variants) {
    const bytes = new Uint8Array(readFileSync(join(MODELS, id, file)));
    const outputs: Float32Array[] = [];
    for (const level of [optimisationFor({ precision: 'int8' }), 'all'] as const) {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: level });
      const feeds: Record<string, ort.Tensor> = {};
      for (const meta of session.inputMetadata) {
        if (!meta.isTensor) throw new Error(`${id}/${file}: input ${meta.name} is not a tensor`);
        const dims = meta.shape.map((d) => (typeof d === 'number' ? d : 3));
        const size = dims.reduce((a, b) => a * b, 1);
        // the same values in [0, 1) for every input (noise, uniforms, label rows): only the two levels' agreement matters
        feeds[meta.name] = new ort.Tensor('float32', Float32Array.from({ length: size }, (_, i) => ((i * 7919) % 997) / 997), dims);
      }
      const out = await session.run(feeds);
      outputs.push(new Float32Array(out[session.outputNames[0]].data as Float32Array));
      await session.release();
    }
    expect(outputs[0].length, `${id}/${file}`).toBeGreaterThan(0);
    expect(Buffer.from(outputs[0].buffer).equals(Buffer.from(outputs[1].buffer)), `${id}/${file}: the same bits at both levels`).toBe(true);
  }
});
