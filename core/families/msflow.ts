/**
 * The multi-scale RealNVP's layout (core/flowspec.ts `MultiScaleFlowSpec`): which
 * coupling runs on which geometry, where each factored-out part sits in the
 * latent, and every weight name. The tfjs model and the ONNX graphs both walk `msLayout`, so
 * the order of the couplings and of the latent is written once, here.
 */
import { heInit, type ParamShape } from '../params';
import { dataDim, type MultiScaleFlowSpec } from '../spec';

/** One coupling: its weight prefix and the tensor [h, w, c] it acts on. */
export interface MsCoupling {
  prefix: string;
  kind: 'checker' | 'channel';
  /** index within its group: the checkerboard parity / which channel half conditions */
  j: number;
  h: number;
  w: number;
  c: number;
}

/** A part of the latent: [h, w, c] flattened row-major at columns [offset, offset + h w c). */
export interface MsPart {
  offset: number;
  h: number;
  w: number;
  c: number;
}

export interface MsScale {
  /** geometry entering the scale (before its squeeze) */
  h: number;
  w: number;
  c: number;
  checker: MsCoupling[];
  channel: MsCoupling[];
  /** the factored-out half: channels [2c, 4c) of the squeezed tensor */
  out: MsPart;
}

export interface MsLayout {
  D: number;
  scales: MsScale[];
  final: MsCoupling[];
  /** the final scale's output, the last part of the latent */
  last: MsPart;
}

/** Names of one coupling's weights; the one place they are spelled. */
export const msNames = (prefix: string, layers: number) => ({
  anLogs: `${prefix}.an.logs`,
  anBias: `${prefix}.an.bias`,
  conv: Array.from({ length: layers }, (_, i) => ({ W: `${prefix}.conv${i}.W`, b: `${prefix}.conv${i}.b` })),
  scale: `${prefix}.scale`,
});

/** Kernel size of conv i of a net with `layers` convs: k for the first and the last, 1 between (Glow's 3x3, 1x1, 3x3). */
export function msKernel(kernel: number, i: number, layers: number): number {
  return i === 0 || i === layers - 1 ? kernel : 1;
}

/** Channels the net of a coupling reads and the c' it transforms (it outputs 2 c'). */
export function msChannels(cp: MsCoupling): { cin: number; cout: number } {
  return cp.kind === 'checker' ? { cin: cp.c, cout: cp.c } : { cin: cp.c / 2, cout: cp.c / 2 };
}

/** Checkerboard mask of coupling j on [h, w]: 1 = conditions (passes unchanged), row-major. */
export function checkerMask(h: number, w: number, j: number): number[] {
  return Array.from({ length: h * w }, (_, i) => (Math.floor(i / w) + (i % w) + j) % 2);
}

export function msLayout(spec: MultiScaleFlowSpec): MsLayout {
  const ms = spec.multiscale;
  const [H, W] = spec.shape;
  const f = 2 ** ms.scales;
  if (spec.shape.length !== 2 || H % f || W % f) throw new Error(`realnvp-ms: image [${spec.shape}] must be [H, W] with H and W divisible by 2^${ms.scales}`);
  for (const [k, v] of [['scales', ms.scales], ['checker', ms.checker], ['channel', ms.channel], ['final', ms.final]] as const) {
    if (!Number.isInteger(v) || v < (k === 'scales' ? 1 : 0)) throw new Error(`realnvp-ms: ${k} must be an integer >= ${k === 'scales' ? 1 : 0}, got ${v}`);
  }
  if (!Number.isInteger(ms.kernel) || ms.kernel < 1 || ms.kernel % 2 === 0) throw new Error(`realnvp-ms: kernel must be odd, got ${ms.kernel}`);
  if (ms.filters.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`realnvp-ms: filters must be positive integers, got [${ms.filters}]`);
  let [h, w, c] = [H, W, 1];
  let offset = 0;
  const scales: MsScale[] = [];
  for (let i = 0; i < ms.scales; i++) {
    const checker = Array.from({ length: ms.checker }, (_, j): MsCoupling => ({ prefix: `s${i}.cb${j}`, kind: 'checker', j, h, w, c }));
    const [h2, w2, c4] = [h / 2, w / 2, 4 * c];
    const channel = Array.from({ length: ms.channel }, (_, j): MsCoupling => ({ prefix: `s${i}.ch${j}`, kind: 'channel', j, h: h2, w: w2, c: c4 }));
    const out: MsPart = { offset, h: h2, w: w2, c: c4 / 2 };
    scales.push({ h, w, c, checker, channel, out });
    offset += h2 * w2 * (c4 / 2);
    [h, w, c] = [h2, w2, c4 / 2];
  }
  const final = Array.from({ length: ms.final }, (_, j): MsCoupling => ({ prefix: `f.cb${j}`, kind: 'checker', j, h, w, c }));
  const D = dataDim(spec);
  if (offset + h * w * c !== D) throw new Error(`internal: realnvp-ms latent holds ${offset + h * w * c} values, not ${D}`);
  return { D, scales, final, last: { offset, h, w, c } };
}

/** Every coupling in data -> latent order. */
export function msCouplings(layout: MsLayout): MsCoupling[] {
  return [...layout.scales.flatMap((s) => [...s.checker, ...s.channel]), ...layout.final];
}

export function msParamShapes(spec: MultiScaleFlowSpec): ParamShape[] {
  const ms = spec.multiscale;
  const k = ms.kernel;
  const out: ParamShape[] = [];
  for (const cp of msCouplings(msLayout(spec))) {
    const n = msNames(cp.prefix, ms.filters.length + 1);
    const { cin, cout } = msChannels(cp);
    out.push({ name: n.anLogs, shape: [cp.c], init: 'zeros' }, { name: n.anBias, shape: [cp.c], init: 'zeros' });
    const sizes = [cin, ...ms.filters, 2 * cout];
    n.conv.forEach((cv, i) => {
      const last = i === n.conv.length - 1;
      const ki = msKernel(k, i, n.conv.length);
      // last conv zero: every coupling starts as the identity
      out.push({ name: cv.W, shape: [ki, ki, sizes[i], sizes[i + 1]], init: last ? 'zeros' : heInit(ki * ki * sizes[i]) });
      out.push({ name: cv.b, shape: [sizes[i + 1]], init: 'zeros' });
    });
    out.push({ name: n.scale, shape: [cout], init: 'ones' });
  }
  return out;
}
