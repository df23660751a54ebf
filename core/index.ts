// The dependency-free core every stage may import.
export * from './prng';
export * from './spec';
export * from './params';
export * from './checkpoint';
export * from './manifest';
export * from './api';
export * from './families';
export {
  bitsPerDim, densityInputs, importanceSampled, isImage, runDensity, runEncode, runSample, sampleNoiseFor, samplePasses, sampleWork, slerp, takesObservationNoise,
  type DensityOutputs, type Feeds, type ModelInfo, type RunGraph,
} from './protocol';
