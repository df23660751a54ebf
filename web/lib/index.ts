/**
 * edgegen in the browser: the client-side counterpart of the API. Load a model
 * exported by edgegen, then sample, decode, interpolate, compute densities,
 * encode, score and classify in the page, with the API's seeded answers.
 *
 *   const model = await loadModel('dcgan-mnist', { baseUrl: '/models/', device: 'auto' });
 *   const { samples } = await model.sample({ n: 16, seed: 42, label: 7 });
 *
 * web/README.md documents it; examples/generate.html uses it.
 */
export { loadModel, Model } from './model';
export type { ClassRef, DecodeOptions, DensityOptions, DeviceChoice, Encoding, InterpolateOptions, LoadOptions, Rows, SampleOptions, Samples, ScoreOptions } from './model';
export { classifyDensity, scoreDensity, scoreK } from './score';
export type { Abstain, Classification, Density, Score } from './score';
export { listModels } from './files';
export type { ProgressInfo, Progress } from './files';
export { detectDevice, onDeviceChange } from './runtime';
export type { Backend, Device, DeviceInfo } from './runtime';
export { drawImageGrid } from './draw';
export type { Capability, Dtype, Manifest, ModelIndex } from '../../core/manifest';
