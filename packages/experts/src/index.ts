export { type FineGrainableConfig, fineGrained } from './fine-grained.js';
export {
  type ExpertsImplementation,
  type ExpertWeights,
  GroupedExperts,
  type GroupedExpertsConfig,
} from './grouped-experts.js';
export {
  type ExpertModule,
  ModuleExperts,
  type ModuleExpertsConfig,
  type ModuleExpertsRows,
} from './module-experts.js';
export { SharedExperts, type SharedExpertsConfig, type SharedExpertsGate } from './shared-experts.js';
export { type DenseFFNWeights, type UpcycleOptions, upcycle } from './upcycle.js';
