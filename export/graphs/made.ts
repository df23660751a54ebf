/**
 * MADE graphs (core/spec.ts MadeSpec; Germain et al. 2015). The masks are
 * constants of the spec, so each W is stored already multiplied by its mask.
 *
 * density: x [N,D] -> logp [N] = sum_d log p(y_d | y_<d) + logdet(pre), y = pre(x)
 *          (K > 1: a logsumexp over the K components, max-shifted)
 * sample:  z [N,L], y [N,D] -> y_next [N,D], x = post(y_next) [N,D]
 *          All D dimensions in order in one run (`sequentialSample`):
 *          y_next_d = mu_d + exp(alpha_d) z_d (K = 1), or the component
 *          u = Phi(z[:, D + d]) picks (K > 1), from y_<d, clamped to the
 *          pixels' support for images (core/spec.ts preSupport). y_<d is the
 *          run's own samples where y is NaN and y's numbers elsewhere: from
 *          all-NaN one run samples (core/protocol.ts `runAutoregressive`), from
 *          a finished sample it scores each dimension teacher-forced.
 *          No random op: the caller draws z.
 * likelihood 'logistic': density = sum_d log P(floor(x_d) | y_<d), the
 * discretised logistic's mass (K > 1: the mixture's; no logdet(pre)); sampling turns z into logistic
 * draws g(z) once, before the steps, and step d sets
 * y_d = clamp((mu_d + s_d g_d + 0.5) / 256, 0, 1).
 * Conditional (C classes): every layer adds label V_i (sample: label [N,C] rows);
 * density runs layer 0's masked product once per row and the rest once per
 * class (row n*C + c under class c), answering logpy [N,C].
 */
import { latentDimOf, madeComponents, madeDegree, madeMasks, madeNet } from '../../core/families';
import { madeLabelWeight } from '../../core/families/made';
import { classCount, dataDim, preSupport, VAE_LOGISTIC_MAX_LOGSCALE, type MadeSpec } from '../../core/spec';
import { BATCH, GraphBuilder, type Dim } from '../onnx/graph';
import { HALF, HALF_LOG_2PI, WeightTable, activation, logisticLogMass, logisticNoise, logisticOf, post, pre, preLogDet, sliceLast, sumLast } from './common';
import type { Graph } from './types';

export function madeGraphs(spec: MadeSpec, w: WeightTable): Graph[] {
  const D = dataDim(spec);
  const net = madeNet(spec);
  const masks = madeMasks(spec);
  const K = madeComponents(spec);
  const L = latentDimOf(spec);
  const C = classCount(spec);
  const logistic = spec.likelihood === 'logistic';

  /**
   * The masked net's output. `label`: one-hot rows [N, C], output [N, P]; 'every class':
   * [N*C, P], row n*C + c scoring row n under class c (layer 0's masked product is shared).
   */
  const netOut = (g: GraphBuilder, y: string, label?: string | 'every class'): string => {
    let h = y;
    const k = net.sizes.length - 1;
    for (let i = 0; i < k; i++) {
      const W = w.get(`made.${i}.W`, [net.sizes[i], net.sizes[i + 1]]);
      const masked = W.data.map((v, j) => v * masks[i][j]);
      const b = w.init(g, `made.${i}.b`, [net.sizes[i + 1]]);
      h = g.node('Add', [g.node('MatMul', [h, g.floats(`made_${i}_W_masked`, W.shape, masked)]), b]);
      if (label === 'every class') {
        // [N, C, size]: class c's row of V is label V for its one-hot label; layer 0 lifts [N, size] to [N, 1, size] first
        const V = w.init(g, madeLabelWeight(i), [C, net.sizes[i + 1]]);
        h = g.node('Add', [i === 0 ? g.node('Unsqueeze', [h, g.ints([1], 'axes')]) : h, V]);
      } else if (label) {
        h = g.node('Add', [h, g.node('MatMul', [label, w.init(g, madeLabelWeight(i), [C, net.sizes[i + 1]])])]);
      }
      h = activation(g, h, i < k - 1 ? net.hidden : net.output);
    }
    return label === 'every class' ? g.node('Reshape', [h, g.ints([-1, net.sizes[k]], 'rows')]) : h;
  };

  /** K = 1: mu and alpha = max(out, minLogStd), each [N, D]. */
  const conditionals = (g: GraphBuilder, y: string, label?: string | 'every class'): { mu: string; alpha: string } => {
    const h = netOut(g, y, label);
    return { mu: sliceLast(g, h, 0, D), alpha: g.node('Max', [sliceLast(g, h, D, 2 * D), g.scalar(spec.minLogStd)]) };
  };

  /** K > 1: mu, alpha and log mixture weights, each [N, K, D] (`bounded` false: alpha as the net gives it, the logistic's b). */
  const mixture = (g: GraphBuilder, y: string, label?: string | 'every class', bounded = true): { mu: string; alpha: string; logw: string } => {
    const h = netOut(g, y, label);
    const block = (b: number) => g.node('Reshape', [sliceLast(g, h, b * K * D, (b + 1) * K * D), g.ints([-1, K, D], 'kd')]);
    return { mu: block(0), alpha: bounded ? g.node('Max', [block(1), g.scalar(spec.minLogStd)]) : block(1), logw: g.node('LogSoftmax', [block(2)], { axis: 1 }) };
  };

  /**
   * The D steps of sequential sampling in one run, each doing only the work
   * its dimension adds (the caching of fast PixelCNN generation, Ramachandran
   * et al. 2017). Hidden unit k has degree `madeDegree` and becomes
   * final once y_<degree is fixed; the masks zero every weight from a unit to
   * a dimension or unit that may not see it. The dimensions go in blocks of T
   * (`blockLength`), a Loop over blocks around a Scan over their steps:
   * - each hidden layer's units are laid out by block (the units of degree in
   *   (s, s + T] for the block of dimensions [s, s + T)), after one dead unit
   *   (all weights 0) that stands for degree 0; a block without units gets a
   *   dead one, so no slice is ever empty;
   * - the state is every hidden layer's pre-activations A_l [N, H_l'], holding
   *   b_l + label V_l and the terms of every unit final so far;
   * - at a block's start, one Gemm reads the block's T dimensions' output
   *   terms from the last layer's units final at that point (a prefix of the
   *   layout), and the block's own units are sliced out of each A_l;
   * - step d of the block: the block's units of each layer from the one below
   *   (tiny Gemms), dimension d's conditionals = the block-start terms + those
   *   of the block's last-layer units (units not final yet meet zero weights,
   *   and partial sums of fixed values are finite), y_d from them and z
   *   (clamped to the support) as core/spec.ts says, then y_d's term in the
   *   first layer's block units;
   * - at a block's end, its T values go into A_1 (one Gemm of rank T), and the
   *   block's now final units of each layer into the layer above.
   * Where `given` holds a number for y_d, that number is used from then on
   * instead of the sample (NaN: sample it), so one run from all-NaN samples and
   * one run from a finished sample scores each dimension teacher-forced.
   * Arithmetic: about one forward pass (rank-T updates and readouts), plus D
   * steps on tensors of ~T x H / (D - 1) units. Returns y [N, D] in order.
   */
  const sequentialSample = (g: GraphBuilder, z: string, given: string, label?: string): string => {
    const k = net.sizes.length - 1;
    const hidden = net.sizes.slice(1, k);
    if (!hidden.length) throw new Error('made: the sample graph needs a hidden layer');
    const P = net.sizes[k];
    const Q = P / D;
    const T = blockLength(D);
    const nB = D / T;
    // each hidden layer's units by block: source index, H for a dead unit; block b's units are [start[b], end[b])
    const layouts = hidden.map((H) => {
      const units = [H];
      const start: number[] = [];
      const end: number[] = [];
      const degree = (u: number) => madeDegree(u, H, D);
      for (let b = 0; b < nB; b++) {
        start.push(units.length);
        const mine = Array.from({ length: H }, (_, u) => u).filter((u) => degree(u) > b * T && degree(u) <= (b + 1) * T);
        units.push(...(mine.length ? mine : [H]));
        end.push(units.length);
      }
      return { units, start, end };
    });
    const widths = layouts.map((l) => l.units.length);
    // The laid-out weights are computed here, once, and stored as constants:
    // built in the graph (Pad and Gather on the masked weights), onnxruntime
    // folded them at every session's creation, 0.6-0.8 s of a MADE's first
    // answer in onnxruntime-web (edge/SERVING.md, "Cold start").
    const masked = (i: number) => {
      const W = w.get(`made.${i}.W`, [net.sizes[i], net.sizes[i + 1]]);
      return W.data.map((v, j) => v * masks[i][j]);
    };
    const vector = (name: string, size: number) => w.get(name, [size]).data;
    const units = layouts.map((l) => l.units);
    // the output layer's columns by block of dimensions: column t * Q + q of block b is the net's column q * D + b * T + t
    const blockCols = Array.from({ length: D * Q }, (_, i) => ((i % (T * Q)) % Q) * D + Math.floor(i / (T * Q)) * T + Math.floor((i % (T * Q)) / Q));
    const byBlock = (t: Float32Array, rows: number) => blocksFirst(t, rows, nB, T * Q);
    const W0 = g.floats('made_0_W_laid_out', [nB, T, widths[0]], pick(masked(0), D, hidden[0], null, units[0]));
    const Wh = hidden.slice(1).map((H, j) => g.floats(`made_${j + 1}_W_laid_out`, [widths[j], widths[j + 1]], pick(masked(j + 1), hidden[j], H, units[j], units[j + 1])));
    const Lh = hidden.length - 1;
    const Wout = g.floats(`made_${k - 1}_W_laid_out`, [nB, widths[Lh], T * Q], byBlock(pick(masked(k - 1), hidden[Lh], P, units[Lh], blockCols), widths[Lh]));
    const bOut = g.floats(`made_${k - 1}_b_laid_out`, [nB, 1, T * Q], byBlock(pick(vector(`made.${k - 1}.b`, P), 1, P, null, blockCols), 1));
    const VOut = label && g.floats(`made_${k - 1}_V_laid_out`, [nB, C, T * Q], byBlock(pick(w.get(madeLabelWeight(k - 1), [C, P]).data, C, P, null, blockCols), C));
    // every layer's block ranges, [nB] each
    const ranges = layouts.map((l, j) => ({ start: g.ints(l.start, `units_start_${j}`), end: g.ints(l.end, `units_end_${j}`) }));
    // the state's start: b_l + label V_l, laid out (dead units 0); unconditional: b_l on every row, so the state keeps one shape
    const rowsOf = g.node('Slice', [g.node('Shape', [z]), g.ints([0], 'starts'), g.ints([1], 'ends')]);
    const state = hidden.map((H, j) => {
      const b = g.floats(`made_${j}_b_laid_out`, [widths[j]], pick(vector(`made.${j}.b`, H), 1, H, null, units[j]));
      if (!label) return g.node('Expand', [b, g.node('Concat', [rowsOf, g.ints([widths[j]], 'width')], { axis: 0 })]);
      return g.node('Gemm', [label, g.floats(`made_${j}_V_laid_out`, [C, widths[j]], pick(w.get(madeLabelWeight(j), [C, H]).data, C, H, null, units[j])), b]);
    });
    // z and the given values by block, [nB, T, N, 1]; K > 1: z's second half (the component picks) too
    const blocks = (t: string, parts: number) => g.node('Reshape', [g.node('Transpose', [t], { perm: [1, 0] }), g.ints([parts, nB, T, -1, 1], 'blocks')]);
    const zParts = blocks(z, L / D);
    const [normals, zPicks] = [0, 1].slice(0, L / D).map((i) => g.node('Gather', [zParts, g.intScalar(i, 'part')], { axis: 0 }));
    // two logistics: each step's work kept to what its dimension needs (`twoLogistics` below)
    const two = logistic && K === 2;
    // the logistic's draws g(z) (two logistics: times HALF / 256, as the draw uses them), and the
    // component picks u = Phi(z'), all at once before the steps
    const draws = logistic ? (two ? g.node('Mul', [logisticNoise(g, normals), g.scalar(HALF / 256)]) : logisticNoise(g, normals)) : normals;
    const picks = zPicks && g.node('Mul', [g.scalar(0.5), g.node('Add', [g.scalar(1), g.node('Erf', [g.node('Mul', [zPicks, g.scalar(Math.SQRT1_2)])])])]);
    const givens = g.node('Gather', [blocks(given, 1), g.intScalar(0, 'part')], { axis: 0 });
    const support = preSupport(spec.preprocess);
    const act = (b: GraphBuilder, t: string) => activation(b, t, net.hidden);

    const block = g.subgraph('made_block');
    const bi = block.typedInput('block', 'int64', []);
    const blockCond = block.typedInput('block_cond', 'bool', []);
    const A = widths.map((width, j) => block.input(`block_a${j}`, [BATCH, width]));
    {
      const o = block;
      const at = (t: string) => o.node('Gather', [t, bi], { axis: 0 });
      const b1 = o.node('Unsqueeze', [bi, o.ints([0], 'axes')]);
      const zero = o.ints([0], 'zero');
      const range = (j: number) => [o.node('Gather', [ranges[j].start, b1], { axis: 0 }), o.node('Gather', [ranges[j].end, b1], { axis: 0 })];
      const slice = (t: string, axis: number, [lo, hi]: string[]) => o.node('Slice', [t, lo, hi, o.ints([axis], 'axes')]);
      const r = layouts.map((_, j) => range(j));
      // the block's T dimensions' terms from the last layer's units final at its start [T, N, Q]
      const WoB = at(Wout);
      const base = VOut ? o.node('Gemm', [label!, at(VOut), at(bOut)]) : at(bOut);
      const head = o.node('Gemm', [act(o, slice(A[Lh], 1, [zero, r[Lh][0]])), slice(WoB, 0, [zero, r[Lh][0]]), base]);
      const terms = o.node('Transpose', [o.node('Reshape', [head, o.ints([-1, T, Q], 'ntq')])], { perm: [1, 0, 2] });
      // the block's last-layer units' weights [T, U_L, Q], its units' start values, their weights among themselves
      const own = o.node('Transpose', [o.node('Reshape', [slice(WoB, 0, r[Lh]), o.ints([-1, T, Q], 'utq')])], { perm: [1, 0, 2] });
      const start = A.map((a, j) => slice(a, 1, r[j]));
      const W0B = at(W0);
      const inFirst = o.node('Unsqueeze', [slice(W0B, 1, r[0]), o.ints([1], 'axes')]);
      const among = Wh.map((W, j) => slice(slice(W, 0, r[j]), 1, r[j + 1]));
      const [zB, uB, gB] = [draws, picks, givens].map((t) => t && at(t));

      // the steps: a Scan hands step t (dimension s + t) its slice of each of these
      const perStep: Array<[string, Dim[]]> = [[own, ['U', Q]], [terms, [BATCH, Q]], [zB!, [BATCH, 1]], ...(uB ? [[uB, [BATCH, 1]] as [string, Dim[]]] : []), [gB!, [BATCH, 1]], [inFirst, [1, 'U']]];
      const step = o.subgraph('made_step');
      const a0 = step.input('step_a0', [BATCH, 'U']);
      const slices = new Map(perStep.map(([name, dims]) => [name, step.input(`step_${name}`, dims)]));
      {
        const s = step;
        /** this step's slice of x */
        const atT = (x: string) => slices.get(x)!;
        const a = [a0];
        among.forEach((W, j) => a.push(s.node('Gemm', [act(s, a[j]), W, start[j + 1]])));
        // dimension d = block start + t: its conditionals [N, Q]
        const out = s.node('Gemm', [act(s, a[Lh]), atT(own), atT(terms)]);
        const col = (q: number, n = 1) => sliceLast(s, out, q, q + n);
        const normal = atT(zB);
        let v: string;
        // the logistic's draw of its bin, dequantised and scaled to y: (mu + s g + 0.5) / 256
        const logisticDraw = (a: string, b: string, g: string) => {
          const { mu, logs } = logisticOf(s, a, b, spec.minLogStd);
          return s.node('Div', [s.node('Add', [s.node('Add', [mu, s.node('Mul', [s.node('Exp', [logs]), g])]), s.scalar(0.5)]), s.scalar(256)]);
        };
        if (K === 1) {
          v = logistic ? logisticDraw(col(0), col(1), normal) : s.node('Add', [col(0), s.node('Mul', [s.node('Exp', [s.node('Max', [col(1), s.scalar(spec.minLogStd)])]), normal])]);
        } else if (two) {
          // Two logistics, the shipped image MADEs: about half the nodes of the general
          // mixture below, which the sampler would run once per pixel. Component 0 when u < w_0 = sigmoid(l_0 - l_1); each component's
          // draw (mu + s g + 0.5) / 256 = a HALF / 256 + exp(clip(b)) g HALF / 256 + (HALF + 0.5) / 256.
          const diff = s.node('MatMul', [out, s.floats('logit_difference', [Q, 1], Array.from({ length: Q }, (_, q) => (q === 4 ? 1 : q === 5 ? -1 : 0)))]);
          const first = s.node('Less', [atT(uB!), s.node('Sigmoid', [diff])]);
          const scale = s.node('Exp', [s.node('Clip', [col(2, 2), s.scalar(spec.minLogStd), s.scalar(VAE_LOGISTIC_MAX_LOGSCALE)])]);
          const both = s.node('Add', [s.node('Add', [s.node('Mul', [col(0, 2), s.scalar(HALF / 256)]), s.node('Mul', [scale, normal])]), s.scalar((HALF + 0.5) / 256)]);
          v = s.node('Where', [first, sliceLast(s, both, 0, 1), sliceLast(s, both, 1, 2)]);
        } else {
          const axis1 = s.ints([1], 'axes');
          const lift = (x: string) => s.node('Unsqueeze', [x, s.ints([2], 'axes')]);
          // [N, K, 1]: the spec's mixture for this dimension, each component's draw from the same noise
          const g1 = s.node('Unsqueeze', [normal, axis1]);
          const draw = logistic
            ? logisticDraw(lift(col(0, K)), lift(col(K, K)), g1)
            : s.node('Add', [lift(col(0, K)), s.node('Mul', [s.node('Exp', [lift(s.node('Max', [col(K, K), s.scalar(spec.minLogStd)]))]), g1])]);
          const logw = lift(s.node('LogSoftmax', [col(2 * K, K)], { axis: 1 }));
          v = s.node('ReduceSum', [s.node('Mul', [pickComponent(s, K, logw, atT(uB!)), draw]), axis1], { keepdims: 0 });
        }
        if (support) v = s.node('Clip', [v, s.scalar(support[0]), s.scalar(support[1])]);
        const gd = atT(gB);
        const fixed = s.node('Where', [s.node('IsNaN', [gd]), v, gd]);
        const a0Next = s.node('Gemm', [fixed, atT(inFirst), a0]);
        // outputs under the names the nodes gave them: an Identity would copy them every step
        s.output(a0Next, a0Next, [BATCH, 'U']);
        s.output(v, v, [BATCH, 1]);
        s.output(fixed, fixed, [BATCH, 1]);
      }
      const [, sampled, used] = o.scan([start[0]], perStep.map(([name]) => name), step, 2);
      // the block's end: its values into A_1, then its final units up the layers
      const values = o.node('Transpose', [o.node('Reshape', [used, o.ints([T, -1], 'tn')])], { perm: [1, 0] });
      const next = [o.node('Gemm', [values, W0B, A[0]])];
      Wh.forEach((W, j) => next.push(o.node('Gemm', [act(o, slice(next[j], 1, r[j])), slice(W, 0, r[j]), A[j + 1]])));
      o.typedOutput(blockCond, 'block_cond_out', 'bool', []);
      next.forEach((x, j) => o.output(x, x, [BATCH, widths[j]]));
      o.output(sampled, sampled, [T, BATCH, 1]);
    }
    const outs = g.loop(nB, state, block, 1);
    // [nB, T, N, 1] -> [N, D]
    return g.node('Transpose', [g.node('Reshape', [outs[outs.length - 1], g.ints([D, -1], 'dn')])], { perm: [1, 0] });
  };

  const density = new GraphBuilder('made_density');
  {
    const g = density;
    const x = g.input('x', [BATCH, D]);
    const yIn = pre(g, spec.preprocess, x, D);
    // conditional: the net's rows are [N*C], row n*C + c being row n under class c; what is
    // scored (y, or the logistic's pixels x) is repeated to match
    const every = C ? ('every class' as const) : undefined;
    const scored = logistic ? x : yIn;
    const y = C ? g.node('Reshape', [g.node('Tile', [g.node('Unsqueeze', [scored, g.ints([1], 'axes')]), g.ints([1, C, 1], 'reps')]), g.ints([-1, D], 'rows')]) : scored;
    let logp: string;
    /** log sum_k exp(comp) over axis 1 of [N, K, D], max-shifted, then summed over the D dimensions */
    const mixtureLogp = (comp: string) => {
      const axis1 = g.ints([1], 'axes');
      const top = g.node('ReduceMax', [comp], { axes: [1], keepdims: 1 });
      const sum = g.node('ReduceSum', [g.node('Exp', [g.node('Sub', [comp, top])]), axis1], { keepdims: 0 });
      return sumLast(g, g.node('Add', [g.node('Log', [sum]), g.node('Squeeze', [top, axis1])]));
    };
    if (logistic && K > 1) {
      const { mu: a, alpha: b, logw } = mixture(g, yIn, every, false);
      const { mu, logs } = logisticOf(g, a, b, spec.minLogStd);
      logp = mixtureLogp(g.node('Add', [logw, logisticLogMass(g, g.node('Unsqueeze', [y, g.ints([1], 'axes')]), mu, logs)]));
    } else if (logistic) {
      const h = netOut(g, yIn, every);
      const { mu, logs } = logisticOf(g, sliceLast(g, h, 0, D), sliceLast(g, h, D, 2 * D), spec.minLogStd);
      logp = sumLast(g, logisticLogMass(g, y, mu, logs));
    } else if (K === 1) {
      const { mu, alpha } = conditionals(g, yIn, every);
      // r = (y - mu) exp(-alpha);  logp = -D/2 log 2pi - sum alpha - 0.5 sum r^2
      const r = g.node('Mul', [g.node('Sub', [y, mu]), g.node('Exp', [g.node('Neg', [alpha])])]);
      const quad = g.node('Mul', [g.scalar(0.5), sumLast(g, g.node('Mul', [r, r]))]);
      logp = g.node('Sub', [g.node('Sub', [g.scalar(-D * HALF_LOG_2PI), sumLast(g, alpha)]), quad]);
    } else {
      const { mu, alpha, logw } = mixture(g, yIn, every);
      const axis1 = g.ints([1], 'axes');
      const r = g.node('Mul', [g.node('Sub', [g.node('Unsqueeze', [y, axis1]), mu]), g.node('Exp', [g.node('Neg', [alpha])])]);
      // comp [N,K,D] = log w - alpha - 0.5 r^2 - 0.5 log 2pi, then a max-shifted logsumexp over k
      logp = mixtureLogp(g.node('Sub', [g.node('Sub', [g.node('Sub', [logw, alpha]), g.node('Mul', [g.scalar(0.5), g.node('Mul', [r, r])])]), g.scalar(HALF_LOG_2PI)]));
    }
    // the logistic's mass is a density of dequantised x already
    const ldPre = logistic ? g.scalar(0) : preLogDet(g, spec.preprocess, x, D);
    if (!C) g.output(g.node('Add', [logp, ldPre]), 'logp', [BATCH]);
    else {
      // [N*C] -> [N, C], plus the log-det of pre: per row for logit, a constant otherwise
      const perRow = spec.preprocess.kind === 'logit' ? g.node('Unsqueeze', [ldPre, g.ints([1], 'axes')]) : ldPre;
      g.output(g.node('Add', [g.node('Reshape', [logp, g.ints([-1, C], 'nc')]), perRow]), 'logpy', [BATCH, C]);
    }
  }

  const sample = new GraphBuilder('made_sample');
  {
    const g = sample;
    const z = g.input('z', [BATCH, L]);
    const given = g.input('y', [BATCH, D]);
    const label = C ? g.input('label', [BATCH, C]) : undefined;
    const next = sequentialSample(g, z, given, label);
    g.output(next, 'y_next', [BATCH, D]);
    g.output(post(g, spec.preprocess, next, D), 'x', [BATCH, D]);
  }

  return [
    { capability: 'sample', builder: sample },
    { capability: 'density', builder: density },
  ];
}

/**
 * One-hot [N, K, X] of the component k = min{k : u < cdf_k} (the last takes the
 * rest), cdf_k = w_0 + ... + w_k from log weights `logw` [N, K, X] and u [N, X]:
 * cdf by a triangular MatMul over k, its last bound lifted to 1e30 so rounding
 * cannot leave u unassigned, then pick_k = below_k - below_{k-1}.
 */
function pickComponent(g: GraphBuilder, K: number, logw: string, u: string): string {
  const tri = g.floats('tri', [K, K], Array.from({ length: K * K }, (_, i) => (i % K <= Math.floor(i / K) ? 1 : 0)));
  const lift = g.floats('lift', [K, 1], Array.from({ length: K }, (_, k) => (k === K - 1 ? 1e30 : 0)));
  const cdf = g.node('Add', [g.node('MatMul', [tri, g.node('Exp', [logw])]), lift]);
  const below = g.node('Cast', [g.node('Less', [g.node('Unsqueeze', [u, g.ints([1], 'axes')]), cdf])], { to: 1 });
  const shift = g.floats('shift_down', [K, K], Array.from({ length: K * K }, (_, i) => (i % K === Math.floor(i / K) - 1 ? 1 : 0)));
  return g.node('Sub', [below, g.node('MatMul', [shift, below])]);
}

/** The sampler's block of dimensions: the largest divisor of D not above sqrt(D) (28 for MNIST), so D / T blocks of T steps each. */
export function blockLength(D: number): number {
  let T = 1;
  for (let t = 1; t * t <= D; t++) if (D % t === 0) T = t;
  return T;
}

/**
 * Rows `rows` and columns `cols` of t [R, Cn] (row-major), where row index R and
 * column index Cn stand for a zero row and column (a dead unit); null: every
 * row in order. [rows.length, cols.length], row-major.
 */
function pick(t: Float32Array, R: number, Cn: number, rows: number[] | null, cols: number[]): Float32Array {
  const rs = rows ?? Array.from({ length: R }, (_, i) => i);
  const out = new Float32Array(rs.length * cols.length);
  rs.forEach((r, i) => {
    if (r === R) return;
    cols.forEach((c, j) => {
      if (c !== Cn) out[i * cols.length + j] = t[r * Cn + c];
    });
  });
  return out;
}

/** t [rows, nB * W] as [nB, rows, W]: the block axis first. */
function blocksFirst(t: Float32Array, rows: number, nB: number, W: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let r = 0; r < rows; r++) for (let b = 0; b < nB; b++) out.set(t.subarray(r * nB * W + b * W, r * nB * W + (b + 1) * W), (b * rows + r) * W);
  return out;
}
