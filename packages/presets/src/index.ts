export { type BuildOptions, buildModel } from './build/build-model.js';
export { type InitPolicy, initPolicy } from './build/layers.js';
export { Block, Stack, type StackInputs, sinusoidalPositions, TransformerLM } from './build/model.js';
export {
  type AttentionConfig,
  type CapacityConfig,
  type EmbeddingConfig,
  type FFNConfig,
  type GroupLimitConfig,
  type LatentAttentionSpec,
  layerPlan,
  type ModelConfig,
  type MoEConfig,
  type MTPConfig,
  type MultiHeadAttentionSpec,
  type NormConfig,
  type PositionConfig,
  type RouterConfig,
  type SharedExpertsConfig,
  type StackConfig,
  validateConfig,
} from './config.js';
export {
  attentionParameters,
  countParameters,
  ffnParameters,
  type MTPParameterCount,
  type ParameterBreakdown,
  type ParameterCount,
} from './count.js';
export { type FlopsPerToken, flopsPerToken } from './flops.js';
export { formatParameterCount, roundToSignificant } from './format.js';
export { HUGGING_FACE_IGNORED_KEYS, type HuggingFaceConfig } from './interop/config-reader.js';
export {
  type ExportHuggingFaceConfigOptions,
  exportHuggingFaceConfig,
} from './interop/export-config.js';
export {
  type ExportHuggingFaceOptions,
  exportHuggingFace,
  type HuggingFaceCheckpoint,
} from './interop/export-hugging-face.js';
export type { HuggingFaceArchitecture } from './interop/family.js';
export { type ImportHuggingFaceConfigOptions, importHuggingFaceConfig } from './interop/import-config.js';
export {
  type LoadHuggingFaceOptions,
  loadHuggingFace,
  type ShardedSafetensors,
} from './interop/load-hugging-face.js';
export { huggingFaceWeightMap } from './interop/weight-map.js';
export type { InterleavedRows, WeightRule } from './interop/weight-rule.js';
export {
  dbrx,
  deepseekMoE2b,
  deepseekMoE16b,
  deepseekMoE145b,
  deepseekV2,
  deepseekV2Lite,
  deepseekV3,
  denseT5Base,
  getPreset,
  glam8b64e,
  glam01b64e,
  glam17b64e,
  glam64b64e,
  gshard600b,
  isPresetName,
  mixtral8x7b,
  mixtral8x22b,
  olmoe1b7b,
  PRESET_NAMES,
  type PresetName,
  presets,
  qwen15MoEA27b,
  stMoE32b,
  stMoEL,
  switchBase8,
  switchBase16,
  switchBase32,
  switchBase64,
  switchBase128,
  switchBase256,
  switchC2048,
  switchLarge128,
  switchXXL128,
} from './presets.js';
export { type ConfigOverrides, type DeepPartial, scalePreset } from './scale.js';
export { tinyPreset, tinyPresets } from './tiny.js';
