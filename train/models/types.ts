/**
 * The one surface every family offers (what export/ and the training loop use).
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelSpec, NamedWeight, Prng } from '../../core';

export interface GenerativeModel {
  spec: ModelSpec;
  /** snapshot of all weights with the names/shapes of core/spec.ts */
  weights(): NamedWeight[];
  /**
   * data space in, data space out (post() of core/spec.ts applied); noise only for the VAE's draw from p(x|z);
   * `label` one-hot [N, C], required by a conditional spec (`spec.conditional`) and refused otherwise
   */
  sample(z: tf.Tensor2D, noise?: tf.Tensor2D, label?: tf.Tensor2D): { x: tf.Tensor2D; xMean?: tf.Tensor2D };
  /**
   * flow: { logp }; VAE: eps [N,K,L] required, returns { elbo, iwae }; GAN: absent.
   * Conditional specs also answer the per-class values [N, C] (`logpy`; VAE `elboy`, `iwaey`),
   * and logp / elbo / iwae are then the marginals over the prior (core/protocol.ts `classMarginal`).
   */
  density?(x: tf.Tensor2D, eps?: tf.Tensor3D): { logp?: tf.Tensor1D; elbo?: tf.Tensor1D; iwae?: tf.Tensor1D; logpy?: tf.Tensor2D; elboy?: tf.Tensor2D; iwaey?: tf.Tensor2D };
  /** flow: { z }; VAE: { mu, logvar }; GAN: absent */
  encode?(x: tf.Tensor2D): { z?: tf.Tensor2D; mu?: tf.Tensor2D; logvar?: tf.Tensor2D };
  dispose(): void;
}

/** What training needs on top of GenerativeModel. */
export interface TrainableModel extends GenerativeModel {
  /** number of scalar parameters */
  parameterCount(): number;
  /**
   * Data-dependent initialisation from a first batch (actnorm); a no-op for
   * families without it. Called once on a fresh model, never on resume.
   */
  initialize(x: tf.Tensor2D): void;
  /**
   * Conditional specs: set the class weights from labelled rows where the family
   * can (the flow's class means); absent: they train from their initial values.
   * Called after `initialize` on a fresh model and after an --init-from start.
   */
  initializeClasses?(x: tf.Tensor2D, label: tf.Tensor2D): void;
  /**
   * One optimisation step on a data-space batch (and, for a conditional spec,
   * its one-hot labels [N, C]); noise comes from `rng`.
   * Returns the step's losses as scalars the caller owns (and disposes),
   * `loss` among them, so the loop decides when to read them back.
   */
  trainStep(x: tf.Tensor2D, rng: Prng, label?: tf.Tensor2D): Record<string, tf.Scalar>;
  setLearningRate(lr: number): void;
  /**
   * Conditional specs: the weight of the label's cross-entropy under Bayes' posterior
   * p(y | x) added to the likelihood loss (a hybrid objective); absent: the family
   * trains by likelihood alone.
   */
  setLabelWeight?(w: number): void;
  optimizerState(): NamedWeight[];
  loadOptimizerState(state: NamedWeight[]): void;
}
