export type { Dispatcher, DispatchMeta, DispatchOptions, DispatchResult } from './dispatcher.js';
export type {
  LanguageModel,
  LanguageModelInput,
  LanguageModelOutput,
  LayerRouting,
} from './language-model.js';
export { type CapacityConfig, LocalDispatcher } from './local-dispatcher.js';
export {
  type ExpertsLike,
  MoELayer,
  type MoELayerConfig,
  type MoEOutput,
  type SharedLike,
} from './moe-layer.js';
export { NestedMoE, type NestedMoEOutput } from './nested-moe.js';
export { type MoEPlacement, moeLayerMask } from './placement.js';
export {
  disposeSoftMoEOutput,
  SoftMoELayer,
  type SoftMoELayerConfig,
  type SoftMoEOutput,
  type SoftMoEStats,
  softMoE,
} from './soft-moe-layer.js';
export {
  disposeStats,
  loadFigures,
  type MoEStats,
  type MoEStatsValues,
  readStats,
  routingStats,
} from './stats.js';
export {
  type BlockOutput,
  type DenseFFNConfig,
  TransformerBlock,
  type TransformerBlockConfig,
} from './transformer-block.js';
