// The dependency-free core every stage may import.
export * from './prng';
export * from './spec';
export * from './checkpoint';
export * from './manifest';
export * from './api';
