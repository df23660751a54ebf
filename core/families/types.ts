/**
 * What a family is, as data: one `FamilyDescriptor` per family
 * (core/families/<family>.ts), registered in core/families/index.ts. Every
 * stage asks the descriptor instead of testing `family === ...`.
 */
import type { Capability, DensityKind } from '../manifest';
import type { ParamShape } from '../params';
import type { Arch, Conditioning, Family, ModelSpec } from '../spec';

/** A tensor dimension in a graph signature: fixed, or the dynamic batch N / importance samples K. */
export type Dim = number | 'N' | 'K';

export interface Signature {
  inputs: Record<string, Dim[]>;
  outputs: Record<string, Dim[]>;
}

export interface SpecOptions {
  /** toys: per-dimension mean and std of the training data (affine standardisation); default 0 and 1 */
  shift?: number[];
  scale?: number[];
  /** tiny: small nets for tests and benchmarks */
  size?: 'default' | 'tiny';
  /** 'conv': conv encoder/decoder (VAE) or DCGAN-style nets (GAN); images only */
  arch?: Arch;
  /** learn p(x | y) over these classes (images; families with `conditioning`) */
  conditional?: Conditioning;
  /** MADE only: its hidden layers' widths and components per conditional, in place of the defaults */
  hidden?: number[];
  components?: number;
}

/** How the graphs of a family are fed and read (core/protocol.ts interprets it). */
export interface GraphProtocol {
  /** the sample graph also takes observation noise `noise` [N, D] and answers the mean as `meanOutput` */
  observationNoise?: { meanOutput: string };
  /**
   * Sampling is autoregressive: the sample graph maps (z, y) -> (y_next, x), where
   * y_next_i depends on y_<i only. Graphs exported now sample every NaN entry
   * of y in order inside one run (a Loop over blocks of dimensions, caching
   * each hidden layer's finished units), so y = all NaN gives a whole sample
   * and a finished y comes back unchanged; older graphs answer NaN to NaN, and
   * core/protocol.ts then runs them D times from y = 0, one dimension a run.
   */
  autoregressive?: boolean;
  /** the density graph takes eps [N, K, L] and answers `elbo` and `iwae` (else it answers `logp`) */
  importanceSampled?: boolean;
  /**
   * A conditional density graph evaluates the whole model once per class (the
   * VAE's and MADE's label enters their nets), so its work is C times a row's;
   * absent: the classes cost next to nothing (a flow's class-conditional base).
   */
  classTiled?: boolean;
  /** encode outputs: the latent, and the posterior log-variance where there is one */
  encode?: { z: string; logvar?: string };
}

export interface FamilyTraits {
  decoder: string;
  training: string;
  logp: string;
  inverse: string;
}

/** What `npm run train` uses when a flag is absent. */
export interface TrainDefaults {
  steps: number;
  batch: number;
  lr: number;
  evalEvery: number;
}

export interface FamilyDescriptor<S extends ModelSpec = ModelSpec> {
  family: Family;
  /** heading for people, e.g. 'Flow (NICE / RealNVP)' */
  title: string;
  /** model names with their display names; the first is the default */
  models: Record<string, string>;
  /** default model id: the id prefix plus the data set */
  defaultId(model: string, dataset: string): string;
  capabilities: Capability[];
  density: DensityKind | null;
  /** why each capability the family lacks is missing, shown to users (422 messages, the page) */
  unavailable: Partial<Record<Capability, string>>;
  traits: FamilyTraits;
  protocol: GraphProtocol;
  /** graph signatures for data dimension D, latent dimension L and C classes (0: unconditional) */
  signatures(D: number, L: number, C: number): Partial<Record<Capability, Signature>>;
  /** why a conditional model of this family lacks a capability the family has (a capability its signatures omit when C > 0) */
  conditionalUnavailable?: Partial<Record<Capability, string>>;
  /** how the label enters this family's model, for people; absent: the family has no conditional model yet */
  conditioning?: string;
  /** the training defaults for `model` on image data (true) or the 2-D toys (false) */
  trainDefaults(model: string, image: boolean): TrainDefaults;
  /** the --arch values the family trains; 'mlp' is the default */
  archs: Arch[];
  /** the model name that is this family's conv arch, accepted by `--model` as another way to say `--arch conv` */
  convModel?: string;
  latentDim(spec: S): number;
  defaultSpec(model: string, shape: number[], opts: SpecOptions): S;
  /**
   * The spec that learns p(x | y) over `classes`, starting from a trained
   * spec (train --init-from); absent: `spec` with `conditional` set. A family
   * whose conditional model has parts of its own that start neutral says so here.
   */
  withClasses?(spec: S, classes: Conditioning): S;
  paramShapes(spec: S): ParamShape[];
}
