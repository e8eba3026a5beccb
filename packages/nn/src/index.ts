export { type ActivationName, activation } from './activation.js';
export {
  checkActivation,
  checkBool,
  checkChoice,
  checkFeatures,
  checkFloatDtype,
  checkGenerator,
  checkInitializer,
  checkInt,
  checkOptions,
  checkPositive,
  checkRange,
  checkRate,
  checkTensorArg,
  initial,
} from './checks.js';
export { Dropout } from './dropout.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { GatedMLP } from './gated-mlp.js';
export { fans, type Initializer, initializers, withDtype } from './init.js';
export { KVCache } from './kv-cache.js';
export { type LatentAttentionMode, LatentKVCache } from './latent-kv-cache.js';
export { LayerNorm, type LayerNormOptions } from './layer-norm.js';
export { Linear, type LinearOptions } from './linear.js';
export { causalMask, paddingMask } from './masks.js';
export { MLP, type MLPOptions } from './mlp.js';
export { Module, namePattern } from './module.js';
export {
  MultiHeadAttention,
  type MultiHeadAttentionConfig,
  type MultiHeadAttentionForwardOptions,
} from './multi-head-attention.js';
export {
  MultiHeadLatentAttention,
  type MultiHeadLatentAttentionConfig,
  type MultiHeadLatentAttentionForwardOptions,
} from './multi-head-latent-attention.js';
export { Buffer, Parameter } from './parameter.js';
export {
  RelativePositionBias,
  type RelativePositionBiasOptions,
  type RelativePositionBucketOptions,
  relativePositionBucket,
} from './relative-position-bias.js';
export { RMSNorm, type RMSNormOptions } from './rms-norm.js';
export { RotaryEmbedding, type RotaryEmbeddingOptions } from './rotary-embedding.js';
export {
  type AttentionOptions,
  MASKED_SCORE,
  scaledDotProductAttention,
} from './scaled-dot-product-attention.js';
