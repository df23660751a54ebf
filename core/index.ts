// The dependency-free core every stage may import.
export * from './prng';
export * from './spec';
export * from './params';
export * from './checkpoint';
export * from './manifest';
export * from './api';
export * from './families';
export {
  bitsPerDim, classMarginal, densityInputs, oneHot, importanceSampled, isImage, runDensity, runEncode, runSample, sampleLabelsFor, sampleNoiseFor, samplePasses, sampleWork, slerp, takesObservationNoise, temperatureOf,
  type DensityOutputs, type Feeds, type ModelInfo, type RunGraph,
} from './protocol';
