/**
 * Model specifications: the architecture of every family, as plain data.
 *
 * A spec plus a list of named weights is everything needed to rebuild a model,
 * in tfjs (train/) or as ONNX graphs (export/). Both stages implement exactly
 * the maths written in the comments below; if you change one, change both and
 * the parity test tells you when they disagree.
 *
 * Conventions shared by all families
 * ----------------------------------
 * Dense layer `P.W` has shape [in, out] and `P.b` shape [out]: y = x W + b.
 * An MLP with sizes [s0, s1, ..., sk] has layers `${prefix}.${i}` for
 * i = 0..k-1; every layer but the last is followed by `hidden`, the last by
 * `output` (activations below).
 *
 * Data space vs model space: every model works on y = pre(x), where x is in the
 * data space the API speaks (toys: raw coordinates; images: pixel intensities
 * in [0, 256), flattened row-major). `Preprocess` defines pre(), its inverse
 * post(), and log|det d pre / dx|, which every density includes, so densities
 * are always densities of x in data space, in nats.
 */
import { isMultiScale, type FlowSpec, type MultiScaleFlowSpec } from './flowspec';

export * from './flowspec';

/**
 * The families, the one list: the `Family` type, the API's enum
 * (core/contract.ts) and, in this order, the page's and the docs' order
 * (core/families FAMILY_ORDER) all derive from it. Every per-family registry
 * (core/families, train/models, export/graphs, export/testing) is typed
 * `{ [F in Family]: ... }`, so a family added here without its descriptor,
 * tfjs model, graphs or reference fails to type-check.
 */
export const FAMILIES = ['vae', 'gan', 'flow', 'made'] as const;
export type Family = (typeof FAMILIES)[number];
export type Activation = 'linear' | 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'elu';
/** leakyRelu(x) = x > 0 ? x : LEAKY_SLOPE * x */
export const LEAKY_SLOPE = 0.2;

export interface MlpSpec {
  sizes: number[];
  hidden: Activation;
  output: Activation;
}

/**
 * pre(x) per data dimension d:
 * - affine:  y = (x - shift[d]) / scale[d];                logdet = -sum_d log scale[d]
 *            post(y) = y * scale[d] + shift[d]
 * - unit:    y = x / 256;                                   logdet = -D log 256
 *            post(y) = clamp(y * 256, 0, 255)
 * - logit:   p = alpha + (1 - 2 alpha) x / 256;  y = log p - log(1 - p)
 *            logdet = sum_d [log(1 - 2 alpha) - log 256 - log p_d - log(1 - p_d)]
 *            post(y) = clamp((sigmoid(y) - alpha) / (1 - 2 alpha) * 256, 0, 255)
 * Images expect x already dequantised (integer pixel + u, u ~ U[0,1)), so
 * bits/dim = -log p(x) / (D ln 2) compares with published figures.
 */
export type Preprocess =
  | { kind: 'affine'; shift: number[]; scale: number[] }
  | { kind: 'unit' }
  | { kind: 'logit'; alpha: number };

/**
 * Where pre(x) lands for x in the data's range: [0, 1] for unit, [logit(alpha),
 * logit(1 - alpha)] for logit; null where y is unbounded (affine toys).
 * Autoregressive sampling clamps each y_d to it (MadeSpec).
 */
export function preSupport(p: Preprocess): [number, number] | null {
  if (p.kind === 'unit') return [0, 1];
  if (p.kind === 'logit') {
    const lo = Math.log(p.alpha) - Math.log1p(-p.alpha);
    return [lo, -lo];
  }
  return null;
}

/**
 * Class conditioning (a label-conditional model of p(x | y)). The label y
 * enters every graph as a one-hot row `label` [N, C] (C = names.length); what
 * it feeds inside is each family's business (its spec comment says). The
 * model still is a model of x: p(x) = sum_y prior[y] p(x | y), and a density
 * graph answers `logpy` [N, C] = log p(x | y) for every class, from which
 * core/protocol.ts forms the marginal by log-sum-exp and the posterior by
 * Bayes' rule. `prior` is the class frequencies of the training split.
 */
export interface Conditioning {
  /** class names in id order (MNIST '0'..'9'; Fashion-MNIST's ten item names) */
  names: string[];
  /** p(y): training-split frequencies, summing to 1 */
  prior: number[];
}

/** C, the number of classes of a conditional spec; 0 for an unconditional one. */
export const classCount = (spec: { conditional?: Conditioning }): number => spec.conditional?.names.length ?? 0;

export interface SpecBase {
  family: Family;
  /** present: the model learns p(x | y) over these classes */
  conditional?: Conditioning;
  /** short model name: 'vae', 'dcgan', 'gan', 'nice', 'realnvp', 'made' */
  model: string;
  /** one sample's shape, e.g. [2] or [28, 28] */
  shape: number[];
  preprocess: Preprocess;
}

/**
 * Convolutional architecture (`arch: 'conv'`, images only; absent or 'mlp' =
 * the dense MLPs). Shape [H, W] with H and W divisible by 2^n, n = channels.length.
 * Tensors are NHWC; an image row y [H*W] (row-major) is reshaped to [H, W, 1],
 * and flatten() is the row-major reshape of [h, w, c] to h*w*c.
 *
 * conv layer `P.conv{i}` (i = 0..n-1): `.W` [k, k, cin, cout], `.b` [cout],
 *   cin = i == 0 ? 1 : channels[i-1], cout = channels[i]; stride 2, SAME padding
 *   (pad_total = max((out-1)*2 + k - in, 0), pad_before = floor(pad_total / 2)):
 *   out = in / 2;  y[i, j, o] = b[o] + sum_{p,q,c} x[2i+p-pb, 2j+q-pb, c] W[p, q, c, o]
 *   (x = 0 outside the image; on even sizes k = 3 gives pb = 0, k = 4 gives pb = 1).
 * deconv layer `P.deconv{i}` (i = 0..n-1), the transpose of such a conv:
 *   `.W` [k, k, cout, cin], `.b` [cout], cin = channels[n-1-i],
 *   cout = i == n-1 ? 1 : channels[n-2-i]; out = 2 * in;
 *   y[s, t, o] = b[o] + sum over (a, p, c), (b', q) with s = 2a+p-pb, t = 2b'+q-pb of x[a, b', c] W[p, q, o, c]
 *   (tf.conv2dTranspose with strides 2, 'same'; the gradient of the conv above).
 * F = (H / 2^n) * (W / 2^n) * channels[n-1]: the flattened size at the bottom.
 *
 * Encoder / discriminator ("down", prefix P = enc | disc):
 *   h = act_hidden(conv_i(h)) for i = 0..n-1;  out = act_output(flatten(h) `P.out.W` + `P.out.b`)
 *   `P.out.W` [F, outDim], `P.out.b` [outDim] (outDim = 2L for the VAE, 1 for the discriminator)
 * Decoder / generator ("up", prefix P = dec | gen):
 *   h = act_hidden(z `P.in.W` + `P.in.b`) reshaped to [H/2^n, W/2^n, channels[n-1]],
 *   `P.in.W` [L, F], `P.in.b` [F];
 *   h = act(deconv_i(h)) for i = 0..n-1, act = hidden except output for the last;
 *   result [H, W, 1] flattened to D.
 * The MlpSpec of such a net carries its activations, and sizes [F, outDim] (down) or [L, F] (up).
 */
export interface ConvSpec {
  /** channels after each stride-2 conv, from the image side, e.g. [16, 32] */
  channels: number[];
  /** square kernel size k (defaults use 3) */
  kernel: number;
}
export type Arch = 'mlp' | 'conv';

/**
 * VAE with Gaussian posterior and Gaussian decoder (on model space y); the
 * discretised-logistic decoder and class conditioning follow below.
 * enc: MLP D -> ... -> 2L (output linear); mu = out[:, :L],
 *      logvar = clip(out[:, L:], VAE_LOGVAR_MIN, VAE_LOGVAR_MAX)
 * z = mu + exp(logvar / 2) * eps
 * dec: MLP L -> ... -> D (output linear) = decoder mean m(z)
 * `dec.logstd` [D]: per-dimension log standard deviation of p(y|z)
 * log p(y|z) = sum_d [-0.5 log 2pi - logstd_d - 0.5 ((y_d - m_d) / exp(logstd_d))^2]
 * log p(z) = sum_l [-0.5 log 2pi - 0.5 z_l^2]
 * log q(z|y) = sum_l [-0.5 log 2pi - 0.5 logvar_l - 0.5 eps_l^2]
 * w_k = log p(y|z_k) + log p(z_k) - log q(z_k|y) + logdet(pre)
 * w_k is held at >= VAE_MIN_LOG_WEIGHT before both bounds;
 * ELBO = mean_k w_k;  IWAE_K = logsumexp_k w_k - log K (max-shifted)
 * sample: x_mean = post(m(z)); x = post(m(z) + exp(logstd) * noise)
 *
 * Class-conditional (`conditional`, C classes): the label enters both nets by
 * concatenation, so its rows of the first weight that reads it are a learned
 * class embedding:
 *   MLP:  enc reads concat(y, label) (sizes [D + C, ..., 2L]), dec reads
 *         concat(z, label) (sizes [L + C, ...]);
 *   conv: the encoder's final dense `enc.out` reads concat(flatten(h), label)
 *         (`enc.out.W` [F + C, 2L], sizes [F + C, 2L]); the decoder's first dense
 *         `dec.in` reads concat(z, label) (`dec.in.W` [L + C, F], sizes [L + C, F]).
 * Then q(z | y, label) and p(x | z, label), and each class's ELBO and IWAE bound
 * log p(x | label). The density graph scores every class: it repeats each row
 * once per class (every class with the same eps) and answers `elboy` and `iwaey`
 * [N, C]; core/protocol.ts forms the marginals over the prior. Its encoder would
 * need the label, so a conditional VAE ships no encode graph.
 * With `classPrior`, the prior of z is the label's too: p(z | label) =
 * N(m_label, I), m = `prior.mu` [C, L], so log p(z) above becomes
 * sum_l [-0.5 log 2pi - 0.5 (z_l - m_label,l)^2] and sampling decodes
 * z + m_label. The encoder puts a row's class into z whatever the prior says
 * (a row reveals its class); with one prior for every class, a sample's z
 * then picks a class of its own and the label only nudges the decoder
 * (samples showed their requested class 36-48% of the time), where a prior
 * per class draws z where that class's rows are encoded.
 *
 * likelihood 'logistic' (images): a discretised logistic per pixel on the 0..255
 * scale (PixelCNN++ with one component; Salimans et al. 2017,
 * https://arxiv.org/abs/1701.05517). The decoder gives two values per pixel, a and
 * b (MLP: output 2D, columns [a | b]; conv: the last deconv has 2 channels, a and
 * b), and `dec.logstd` is absent:
 *   mu_d = 127.5 (1 + a_d),  s_d = 127.5 exp(clip(b_d, minLogStd, VAE_LOGISTIC_MAX_LOGSCALE))
 *   k_d = clamp(floor(x_d), 0, 255): the pixel of dequantised x (x outside [0, 256) scores its nearest bin)
 *   A = (k + 0.5 - mu) / s,  B = (k - 0.5 - mu) / s  (A - B = 1/s)
 *   P(k) = sigmoid(A) - sigmoid(B), taking sigmoid(A) = 1 at k = 255 and sigmoid(B) = 0 at k = 0
 *   log P(k) = -[k < 255] softplus(-A) - [k > 0] softplus(B) + [0 < k < 255] log(1 - exp(-1/s))
 *   (exact, from sigmoid(A) - sigmoid(B) = sigmoid(A) sigmoid(-B) (1 - e^(B - A)), and
 *   free of the cancellation of the difference far in either tail)
 *   log p(x|z) = sum_d log P(k_d): the mass of x's unit bin spread evenly over the bin,
 *   a density of dequantised x, so bits/dim compare with the flows'. pre() only
 *   feeds the encoder: w_k = log p(x|z_k) + log p(z_k) - log q(z_k|y), no logdet(pre).
 * sample: x_mean = clamp(mu, 0, 255);  x = clamp(mu + s g(noise), 0, 255) with
 *   g(n) = logit(Phi(n)) = sign(n) (log(1 - q) - log q), q = 1 - Phi(|n|) from
 *   Abramowitz & Stegun 26.2.17 (`VAE_PHI_TAIL`): log q = -n^2 / 2 - 0.5 log 2pi
 *   + log(sum_i b_i t^i), t = 1 / (1 + p |n|); g(noise) is a standard logistic draw
 *   (|Phi error| < 7.5e-8, logit within 0.015 out to |n| = 9; 1 - erf(n) in float32
 *   would lose the tail) and round(x) a draw from the discretised logistic. The
 *   graph does not round: a float difference between runtimes at a half grey level
 *   would become a whole grey level.
 */
/**
 * Far from the data (|x| ~ 50 on moons) the encoder's raw log-variance grew
 * past 177, exp(logvar / 2) overflowed float32, and the density became NaN.
 * The bounds keep posterior std in [4.5e-5, 148] prior units; the shipped
 * VAEs give logvar in [-5.5, 0.05] on their test data, so they never bind there.
 */
export const VAE_LOGVAR_MIN = -20;
export const VAE_LOGVAR_MAX = 10;
/** A log-weight below this (a density under e^-1e30, zero in float32) is held here, so no -inf reaches the logsumexp. */
export const VAE_MIN_LOG_WEIGHT = -1e30;
/**
 * Upper bound on the logistic's b: s <= 127.5 e^0.7 = 257 grey levels, wider
 * than the pixel range, and 1 - exp(-1/s) >= 0.0039 stays far above float32
 * rounding, so the density is finite however far x is from the data.
 */
export const VAE_LOGISTIC_MAX_LOGSCALE = 0.7;
/** Abramowitz & Stegun 26.2.17: 1 - Phi(x) = phi(x) sum_{i=1..5} b_i t^i, t = 1 / (1 + p x), x >= 0 */
export const VAE_PHI_TAIL = { p: 0.2316419, b: [0.31938153, -0.356563782, 1.781477937, -1.821255978, 1.330274429] } as const;

export interface VaeSpec extends SpecBase {
  family: 'vae';
  latentDim: number;
  encoder: MlpSpec;
  decoder: MlpSpec;
  /** lower bound applied to dec.logstd (clamp) so the likelihood cannot collapse; 'logistic': the lower bound on b */
  minLogStd: number;
  /** 'conv': encoder/decoder are the conv nets of `ConvSpec` (absent = 'mlp') */
  arch?: Arch;
  conv?: ConvSpec;
  /** p(x|z): Gaussian on model space (absent = 'gaussian') or the discretised logistic on pixels */
  likelihood?: 'gaussian' | 'logistic';
  /** conditional: p(z | label) = N(m_label, I) with learned means (absent: N(0, I) for every class) */
  classPrior?: boolean;
}

/**
 * GAN: generator `gen` MLP L -> ... -> D; x = post(gen(z)).
 * Discriminator `disc` MLP D -> ... -> 1 (logit), used only in training.
 * Non-saturating loss: L_D = softplus(-D(x)) + softplus(D(G(z))), L_G = softplus(-D(G(z))).
 * arch 'conv' (DCGAN-style, `ConvSpec`): `gen` is the "up" net (dense -> reshape
 * [H/4, W/4, C] -> deconv stride 2 ... -> [H, W, 1], output sigmoid), `disc` the
 * "down" net (conv stride 2 ... -> flatten -> dense logit).
 * Conditional (`conditional`, C classes): the generator reads concat(z, label)
 * [N, L + C] (so `gen.in.W` is [L + C, F]: the label's rows are a learned class
 * embedding); the discriminator adds a projection term (Miyato & Koyama 2018):
 * D(y, label) = out(h) + sum_f h_f (label `disc.embed`)_f, `disc.embed` [C, F],
 * h the flattened features before `disc.out`.
 */
export interface GanSpec extends SpecBase {
  family: 'gan';
  latentDim: number;
  generator: MlpSpec;
  discriminator: MlpSpec;
  /**
   * Training recipe (training only: the exported generator's maths is the same):
   * `loss` hinge (L_D = relu(1 - D(real)) + relu(1 + D(fake)), L_G = -D(fake)) or
   * the non-saturating loss above; `spectralNorm`: every discriminator weight
   * divided by its largest singular value (one power iteration a step; Miyato et
   * al. 2018); `ema`: the shipped generator `gen.*` is an exponential moving
   * average, with this decay, of the trained one (`raw.gen.*`, training only).
   * Absent: the non-saturating loss, no normalisation, no average.
   */
  recipe?: { loss: 'hinge' | 'nonsaturating'; spectralNorm: boolean; ema?: number };
  /** 'conv': generator/discriminator are the conv nets of `ConvSpec` (absent = 'mlp') */
  arch?: Arch;
  conv?: ConvSpec;
}

/** The conv description of a spec, or undefined for MLP specs. */
export function convOf(spec: ModelSpec): ConvSpec | undefined {
  // the specs with an `arch` field (ModelSpec's members say which)
  if ('arch' in spec && spec.arch === 'conv') {
    if (!spec.conv) throw new Error(`${spec.family}: arch 'conv' needs a conv description { channels, kernel }`);
    return spec.conv;
  }
  return undefined;
}

/** Whether a spec's model trains conv layers (the backend must have conv gradients). */
export function usesConv(spec: ModelSpec): boolean {
  return convOf(spec) !== undefined || isMultiScale(spec);
}

/**
 * MADE (Germain et al. 2015, https://arxiv.org/abs/1502.03509) on model space
 * y in R^D, in the natural order, with a mixture of K Gaussians per
 * conditional (K = `components`, default 1):
 *   log p(y) = sum_d log sum_k pi_dk N(y_d; mu_dk, exp(alpha_dk)^2)
 * where every parameter of dimension d depends on y_<d only. One masked MLP
 * `made` [D, ...hidden, P] gives them all in one pass: K = 1: P = 2D, columns
 * [mu | alpha']; K > 1: P = 3KD, columns [mu_0..mu_{K-1} | alpha'_0.. | logit_0..],
 * each block D wide; column j belongs to dimension j mod D. alpha =
 * max(alpha', minLogStd); pi_d = softmax_k(logit_dk).
 * Degrees: input d has degree d + 1; hidden unit k of a layer of H units has
 * degree (k mod (D - 1)) + 1 when H >= D - 1, else floor(k (D - 1) / H) + 1
 * (1 when D = 1; core/families/made.ts `madeDegree`); a weight between layers is kept when the
 * degree of its target >= that of its source, and an output column of
 * dimension d keeps the hidden units of degree < d + 1.
 * Weights `made.{i}.W` / `.b` are stored dense; the masks follow from the spec.
 * log p(x) = log p(y) + logdet(pre).
 * Sampling, one dimension at a time in order, from noise z [N, L]:
 *   K = 1 (L = D):  y_d = mu_d + exp(alpha_d) z_d
 *   K > 1 (L = 2D): u_d = Phi(z_{D+d}) (standard normal CDF) picks component
 *     k = min{k : u_d < cdf_k} with cdf_k = pi_d0 + ... + pi_dk (the last
 *     component takes the rest), then y_d = mu_dk + exp(alpha_dk) z_d.
 *   Images: each y_d is then clamped to preSupport (the logit of pixels 0..256).
 *   post would clamp x there anyway; feeding an unclamped y_d back conditions
 *   the later dimensions on an image that cannot exist, where a weak model's
 *   conditionals extrapolate until they overflow (MADE on Fashion-MNIST, 5.67
 *   bits/dim: NaN from dimension 52 on for seed 42, unclamped).
 * With K = 1 and u = (y - mu) exp(-alpha) this is a one-step MAF (Papamakarios
 * et al. 2017): z is the noise that generates x, not a code.
 * Conditional (C classes, `conditional`): the one-hot label l [C] feeds every
 * layer through an unmasked weight `made.{i}.V` [C, size_{i+1}]:
 *   h_{i+1} = act(h_i masked(W_i) + l V_i + b_i)
 * so every parameter of dimension d depends on y_<d and l; the label has no
 * degree (every unit may see it) and the product of the conditionals is
 * log p(y | l). The density graph scores every class (logpy [N, C]); p(x) is
 * their mixture over the prior (`Conditioning`).
 *
 * likelihood 'logistic' (images, preprocess 'unit'): each conditional is
 * the discretised logistic of `VaeSpec` on the 0..255 pixel k_d = clamp(floor(x_d),
 * 0, 255), its columns [a | b] in place of [mu | alpha'] (K > 1: [a_0.. | b_0.. |
 * logit_0..], a mixture of K of them, as PixelCNN++ has):
 *   mu_dk = 127.5 (1 + a_dk),  s_dk = 127.5 exp(clip(b_dk, minLogStd, VAE_LOGISTIC_MAX_LOGSCALE))
 *   log p(x) = sum_d log sum_k pi_dk P_k(k_d | y_<d), y = pre(x) = x / 256, no logdet(pre):
 * a piecewise-constant density of dequantised x, so bits/dim compare with the
 * Gaussian MADE's and the flows'. A background pixel's mass sits at k = 0,
 * which the logistic's edge bin takes whole; a Gaussian on logit(x) has to
 * spread it over the dequantisation interval.
 * Sampling: v_d = mu_d + s_d g(z_d) (g of `VaeSpec`: a standard logistic draw
 * from a normal; K > 1: of the component u_d = Phi(z_{D+d}) picks, as above),
 * y_d = clamp((v_d + 0.5) / 256, 0, 1), x = post(y). One logistic per pixel
 * must spread a stroke pixel's doubt (ink or paper) over every grey between;
 * two components put it on the two ends. The
 * bin of k is v in [k - 0.5, k + 0.5), so floor(x_d) = clamp(round(v_d), 0, 255)
 * is a draw of P(k | y_<d) and x_d a dequantised pixel of that bin, fed back
 * as the training data was; no rounding happens in the graph.
 */
export interface MadeSpec extends SpecBase {
  family: 'made';
  hidden: number[];
  activation: Activation;
  /** lower bound on every conditional's log standard deviation, so the likelihood cannot collapse */
  minLogStd: number;
  /** components per conditional (default 1): Gaussians, or discretised logistics */
  components?: number;
  /** each conditional: a Gaussian on model space (absent = 'gaussian'), or the discretised logistic on pixels */
  likelihood?: 'gaussian' | 'logistic';
}

export type ModelSpec = VaeSpec | GanSpec | FlowSpec | MultiScaleFlowSpec | MadeSpec;

/** A named weight tensor, row-major. */
export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

export function dataDim(spec: { shape: number[] }): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}
