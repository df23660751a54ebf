/**
 * The flow specs, NICE / RealNVP and the multi-scale RealNVP, with their
 * maths; core/spec.ts re-exports them beside the other families' specs.
 */
import type { Activation, ModelSpec, SpecBase } from './spec';

/**
 * Flow (NICE / RealNVP) on model space y in R^D, D = prod(shape).
 * Step l (l = 0..steps-1), applied in order from data to latent:
 *   if actnorm:  y = y * exp(`step{l}.an.logs`) + `step{l}.an.bias`; logdet += sum logs
 *   mask m = masks[l] (1 = passes through unchanged and conditions the rest)
 *   h = MLP `step{l}.net` applied to (y * m); sizes [D, ..., D] (nice) or [D, ..., 2D] (realnvp)
 *   nice:    t = h;                    y = y + (1 - m) * t;                 logdet += 0
 *   realnvp: s = `step{l}.scale` * tanh(h[:, :D]); t = h[:, D:]
 *            y = m * y + (1 - m) * (y * exp(s) + t);      logdet += sum (1 - m) * s
 * After the last step, if finalScale: z = y * exp(`final.logs`); logdet += sum final.logs
 * log p(x) = sum_d [-0.5 log 2pi - 0.5 z_d^2] + logdet(steps) + logdet(pre)
 * The inverse undoes the steps in reverse order (exact).
 * Conditional (`conditional`, C classes; FlowGMM, Izmailov et al. 2020,
 * https://arxiv.org/abs/1912.13025): the base is N(mu_y, I) with `base.mu`
 * [C, D], one mean per class; the bijection does not read the label, so z and
 * encode are as above. With c = logdet(steps) + logdet(pre),
 *   log p(x | y) = sum_d [-0.5 log 2pi - 0.5 (z_d - mu[y, d])^2] + c
 *                = -0.5 |z|^2 + z . mu_y - 0.5 |mu_y|^2 - (D/2) log 2pi + c
 *   (the density graph's `logpy` [N, C]: one MatMul of z with mu^T for all classes)
 *   sample: z' = z + label `base.mu` (z ~ N(0, I), label one-hot), x = post(inverse(z')).
 */
export interface FlowSpec extends SpecBase {
  family: 'flow';
  /** number of coupling steps */
  steps: number;
  /** one mask per step, each of length D with entries 0 or 1 */
  masks: number[][];
  coupling: 'additive' | 'affine';
  /** hidden sizes of each coupling net (input D and output D or 2D are implied) */
  hidden: number[];
  activation: Activation;
  actnorm: boolean;
  finalScale: boolean;
}

/**
 * Multi-scale RealNVP (Dinh et al. 2017, https://arxiv.org/abs/1605.08803 sec. 3.6),
 * model 'realnvp-ms', images [H, W] only, H and W divisible by 2^scales.
 * Tensors are NHWC; y [N, H*W] (model space, after pre()) enters as [h, w, c] = [H, W, 1],
 * and flatten() is the row-major reshape of [h, w, c].
 *
 * Scale i = 0..scales-1 on [h, w, c]:
 *   `checker` checkerboard couplings `s{i}.cb{j}`, then squeeze, then `channel`
 *   channel couplings `s{i}.ch{j}` on [h/2, w/2, 4c], then factor-out: channels
 *   [2c, 4c) go to the latent, [0, 2c) continue as [h/2, w/2, 2c].
 * Final scale on what is left: `final` checkerboard couplings `f.cb{j}`.
 * squeeze: out[a, b, (2p + q) c + k] = in[2a + p, 2b + q, k] (p, q in {0, 1});
 *   the channel order of ONNX SpaceToDepth / DepthToSpace (DCR); logdet 0.
 * Each coupling `P` on [h, w, c], after its actnorm:
 *   actnorm (per channel): y = y * exp(`P.an.logs`) + `P.an.bias` ([c] each); logdet += h w sum logs
 *   net(u) = conv_n(act(conv_{n-1}( ... act(conv_0(u)) ...))): `P.conv{i}.W` [k_i, k_i, cin_i, cout_i],
 *     `.b` [cout_i], stride 1, SAME padding (pad_before = floor((k_i - 1) / 2)), hidden channels
 *     `filters`, k_i = kernel for the first and the last conv and 1 between (Glow's 3x3, 1x1, 3x3),
 *     the last conv (i = n = filters.length) zero-initialised with 2 c' outputs;
 *     s = `P.scale` * tanh(net[..., :c']), t = net[..., c':], `P.scale` [c'] (init 1)
 *   checkerboard (c' = c, cin_0 = c): mask m[r, q] = (r + q + j) mod 2 on every channel
 *     (1 = conditions, passes unchanged), the same parity rule as `alternatingMasks`;
 *     h = net(y m);  y = m y + (1 - m) (y exp(s) + t);  logdet += sum (1 - m) s
 *   channel (c' = c / 2, cin_0 = c / 2): (a, b) = (y[..., :c/2], y[..., c/2:]);
 *     j even: b = b exp(s) + t with (s, t) from net(a);  j odd: a = a exp(s) + t from net(b);
 *     logdet += sum s
 * Latent z [N, D], D = H W: concat of flatten(factored part of scale 0), ...,
 *   flatten(factored part of scale scales-1), flatten(final output) (each [h, w, c] row-major).
 * log p(x) = sum_d log N(z_d; 0, 1) + logdet + logdet(pre); the inverse runs backwards (exact).
 * Conditional: the class-conditional base of `FlowSpec` on this z (`base.mu` [C, D], the
 *   mean of z in the latent order above), so log p(x | y) = sum_d log N(z_d; mu[y, d], 1) + logdet + logdet(pre).
 */
export interface MultiScaleSpec {
  /** squeeze + factor-out levels */
  scales: number;
  /** checkerboard couplings per scale, before its squeeze */
  checker: number;
  /** channel couplings per scale, after its squeeze */
  channel: number;
  /** checkerboard couplings at the final scale */
  final: number;
  /** hidden channels of each coupling net's convs */
  filters: number[];
  /** square odd kernel size of each net's first and last conv (the ones between are 1x1) */
  kernel: number;
}

export interface MultiScaleFlowSpec extends SpecBase {
  family: 'flow';
  model: 'realnvp-ms';
  multiscale: MultiScaleSpec;
  /** activation after each hidden conv */
  activation: Activation;
}

export function isMultiScale(spec: ModelSpec): spec is MultiScaleFlowSpec {
  return spec.family === 'flow' && 'multiscale' in spec;
}

/** Alternating masks: checkerboard over the flattened index for images, halves for toys. */
export function alternatingMasks(dim: number, steps: number, shape: number[]): number[][] {
  const masks: number[][] = [];
  for (let l = 0; l < steps; l++) {
    const m: number[] = [];
    for (let i = 0; i < dim; i++) {
      let bit: number;
      if (shape.length === 2) {
        const r = Math.floor(i / shape[1]);
        const c = i % shape[1];
        bit = (r + c) % 2;
      } else {
        bit = i < dim / 2 ? 1 : 0;
      }
      m.push(l % 2 === 0 ? bit : 1 - bit);
    }
    masks.push(m);
  }
  return masks;
}
