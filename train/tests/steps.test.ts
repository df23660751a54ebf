// The one contract every invertible step keeps (train/models/steps.ts), checked
// on every step kind: inverse(forward(y)) = y, the two log-dets sum to zero,
// and the forward log-det is log|det| of the step's Jacobian (autodiff).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mlpShapes, msLayout, paramShapes, Prng, type MadeSpec, type MultiScaleFlowSpec, type NamedWeight, type ParamShape } from '../../core';
import { initBackend } from '../backend';
import { Params } from '../models/nn';
import { AutoregressiveStep } from '../models/made';
import { ChannelActNorm, ConvCoupling, MultiScale, Squeeze } from '../models/msflow';
import { ActNorm, Coupling, Scale, type FlowStep } from '../models/steps';

const D = 5;
const net = (out: number) => ({ sizes: [D, 8, out], hidden: 'tanh' as const, output: 'linear' as const });
const mask = [1, 0, 1, 0, 1];
const made: MadeSpec = { family: 'made', model: 'made', shape: [D], preprocess: { kind: 'unit' }, hidden: [16, 16], activation: 'tanh', minLogStd: -5 };
// a 4x4 multi-scale RealNVP: [4,4,1] checkerboard, squeeze, [2,2,4] channel, factor-out, [2,2,2] checkerboard
const ms: MultiScaleFlowSpec = {
  family: 'flow', model: 'realnvp-ms', shape: [4, 4], preprocess: { kind: 'logit', alpha: 0.05 }, activation: 'relu',
  multiscale: { scales: 1, checker: 2, channel: 2, final: 2, filters: [4], kernel: 3 },
};
const msl = msLayout(ms);
const [cb0, ch1, fcb1] = [msl.scales[0].checker[0], msl.scales[0].channel[1], msl.final[1]];
const size = (cp: { h: number; w: number; c: number }) => cp.h * cp.w * cp.c;

/** Each step kind: the weights it reads, how to build it over them, its row size (default D) and random weight std (default 0.5). */
const STEP_KINDS: Array<[string, ParamShape[], (p: Params) => FlowStep, number?, number?]> = [
  ['actnorm', [{ name: 'an.logs', shape: [D], init: 'zeros' }, { name: 'an.bias', shape: [D], init: 'zeros' }], (p) => new ActNorm(p, 'an.logs', 'an.bias')],
  ['scale', [{ name: 'final.logs', shape: [D], init: 'zeros' }], (p) => new Scale(p, 'final.logs')],
  ['additive coupling (NICE)', mlpShapes('net', net(D)), (p) => new Coupling(p, 'net', net(D), mask)],
  ['affine coupling (RealNVP)', [...mlpShapes('net', net(2 * D)), { name: 'scale', shape: [D], init: 'ones' }], (p) => new Coupling(p, 'net', net(2 * D), mask, 'scale')],
  ['autoregressive (MADE, a one-step MAF)', paramShapes(made), (p) => new AutoregressiveStep(p, made)],
  ['channel actnorm (multi-scale)', [{ name: 'an.logs', shape: [4], init: 'zeros' }, { name: 'an.bias', shape: [4], init: 'zeros' }], (p) => new ChannelActNorm(p, 'an.logs', 'an.bias', 4, 4), 16],
  ['squeeze 2x2 (multi-scale)', [], () => new Squeeze(4, 4, 2), 32],
  ['conv coupling, checkerboard, 1 channel (multi-scale)', paramShapes(ms), (p) => new ConvCoupling(p, cb0, ms), size(cb0)],
  ['conv coupling, checkerboard, parity 1 (multi-scale)', paramShapes(ms), (p) => new ConvCoupling(p, fcb1, ms), size(fcb1)],
  ['conv coupling, channel halves, parity 1 (multi-scale)', paramShapes(ms), (p) => new ConvCoupling(p, ch1, ms), size(ch1)],
  // 12 steps at std 0.5 reach |z| ~ 360 (round trip 1.2e-4, 3e-7 relative); at 0.3, |z| ~ 14
  ['multi-scale RealNVP, whole flow with factor-out (4x4)', paramShapes(ms), (p) => new MultiScale(p, ms), 16, 0.3],
];

/** Random weights N(0, 0.5^2) for the given shapes: the default init makes most steps the identity. */
function randomParams(shapes: ParamShape[], seed: number, std = 0.5): Params {
  const rng = new Prng(seed);
  const w: NamedWeight[] = shapes.map((s) => ({ name: s.name, shape: s.shape, data: rng.normals(s.shape.reduce((a, b) => a * b, 1), std) }));
  return new Params(shapes, w, 0, 'step test');
}

/** log|det| of a square matrix (float64 Gaussian elimination with partial pivoting). */
function logAbsDet(a: number[][]): number {
  const m = a.map((r) => [...r]);
  const n = m.length;
  let s = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    s += Math.log(Math.abs(m[c][c]));
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k < n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return s;
}

/** Jacobian d forward(y)_i / d y_j of one row, by autodiff: J[i][j]. */
function jacobian(step: FlowStep, row: Float32Array): number[][] {
  return Array.from({ length: row.length }, (_, i) =>
    tf.tidy(() => Array.from(tf.grad((y: tf.Tensor) => tf.sum(tf.slice(step.forward(y as tf.Tensor2D).y, [0, i], [1, 1])))(tf.tensor2d(row, [1, row.length])).dataSync())),
  );
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe.each(STEP_KINDS)('step: %s', (_name, shapes, make, dim = D, std = 0.5) => {
  const y = tf.tensor2d(new Prng(3).normals(20 * dim), [20, dim]);

  it('inverse(forward(y)) = y and the log-dets sum to 0', () => {
    const step = make(randomParams(shapes, 7, std));
    tf.tidy(() => {
      const f = step.forward(y);
      const b = step.inverse(f.y);
      // the random step must move the points, or the round trip proves nothing
      expect(tf.max(tf.abs(tf.sub(f.y, y))).dataSync()[0]).toBeGreaterThan(0.05);
      expect(tf.max(tf.abs(tf.sub(b.y, y))).dataSync()[0]).toBeLessThan(1e-4);
      expect(f.logdet.shape).toEqual([20]);
      expect(tf.max(tf.abs(tf.add(f.logdet, b.logdet))).dataSync()[0]).toBeLessThan(1e-4);
    });
    step.dispose?.();
  });

  it('the forward log-det is log|det J| of the forward map', () => {
    const step = make(randomParams(shapes, 8, std));
    const row = new Prng(4).normals(dim);
    const J = jacobian(step, row);
    const ld = tf.tidy(() => step.forward(tf.tensor2d(row, [1, dim])).logdet.dataSync()[0]);
    expect(Math.abs(logAbsDet(J) - ld)).toBeLessThan(1e-3);
    step.dispose?.();
  });
});

describe('MADE is autoregressive', () => {
  it('output d of the forward map depends on inputs < d only, and on some of them (Jacobian)', () => {
    const step = new AutoregressiveStep(randomParams(paramShapes(made), 9), made);
    const row = new Prng(5).normals(D);
    const J = jacobian(step, row);
    const alpha = tf.tidy(() => Array.from(step.conditionals(tf.tensor2d(row, [1, D])).alpha.dataSync()));
    for (let d = 0; d < D; d++) {
      // d u_d / d y_d = exp(-alpha_d) exactly when mu_d and alpha_d do not see y_d; nothing from y_j, j > d
      expect(Math.abs(J[d][d] - Math.exp(-alpha[d])) / Math.exp(-alpha[d]), `du_${d}/dy_${d}`).toBeLessThan(1e-5);
      for (let j = d + 1; j < D; j++) expect(J[d][j], `du_${d}/dy_${j}`).toBe(0);
      // the conditionals do use the past (a fully masked net would pass the check above too)
      if (d > 0) expect(Math.max(...J[d].slice(0, d).map(Math.abs)), `du_${d}/dy_<${d}`).toBeGreaterThan(1e-3);
    }
    step.dispose();
  });
});
