export { DecodeSession, type DecodeSessionOptions, type HostRouting } from './decode-session.js';
export { type DeviceExpert, ExpertCache, type ExpertCacheStats } from './expert-cache.js';
export {
  type ExpertLayerInfo,
  type ExpertStore,
  expertBytes,
  expertKey,
  type HostExpert,
  type StackName,
} from './expert-store.js';
export {
  type FinishReason,
  type GenerateOptions,
  type GenerationResult,
  type GenerationStep,
  generate,
  generateStream,
  type Prompt,
} from './generate.js';
export { HostExpertStore } from './host-expert-store.js';
export { ExpertOffload, type OffloadOptions, offloadExperts } from './offload-experts.js';
export { openExpertsFromOPFS, saveExpertsToOPFS } from './opfs-experts.js';
export type { LayerExperts, RoutingTrace, TokenRouting } from './routing-trace.js';
export { SafetensorsExpertStore, saveExperts, writeExperts } from './safetensors-expert-store.js';
export { pickToken, type Sampling, type SamplingOptions } from './sampling.js';
export { loadTokenizer, type TextTokenizer, tokenizerFromJSON } from './tokenizer.js';
