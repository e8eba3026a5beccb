import type { ModelConfig } from '../config.js';
import type { ConfigReader, HuggingFaceConfig } from './config-reader.js';
import type { WeightRule } from './weight-rule.js';

/** The transformers class names Switchyard reads and writes. */
export type HuggingFaceArchitecture =
  | 'MixtralForCausalLM'
  | 'Qwen2MoeForCausalLM'
  | 'DeepseekV2ForCausalLM'
  | 'DeepseekV3ForCausalLM'
  | 'OlmoeForCausalLM'
  | 'SwitchTransformersForConditionalGeneration';

/** Facts of a checkpoint's layout that the ModelConfig does not carry. */
export interface HuggingFaceLayout {
  /** DeepSeek: the rotary rows of q and of the shared rotary key are stored interleaved (`rope_interleave`). */
  ropeInterleave: boolean;
}

/** A config without the two descriptive fields the importer fills in. */
export type ModelStructure = Omit<ModelConfig, 'name' | 'source'>;

/**
 * One Hugging Face architecture: how its config.json maps onto a ModelConfig and back, and where each of our
 * tensors lives in its checkpoints.
 */
export interface Family {
  /** The transformers class named in `architectures`, e.g. `MixtralForCausalLM`. */
  architecture: HuggingFaceArchitecture;
  /** Its `model_type`, e.g. `mixtral`. */
  modelType: string;
  /** Reads every key the architecture defines (the reader refuses the rest). */
  read(reader: ConfigReader): { structure: ModelStructure; layout: HuggingFaceLayout };
  /** Why `config` cannot be written as this architecture, or null when it can. */
  misfit(config: ModelConfig): string | null;
  /** The architecture's keys for `config` (call only when `misfit` is null). */
  write(config: ModelConfig): HuggingFaceConfig;
  /** Every tensor of the model `config` builds, with its checkpoint name(s). */
  weightRules(config: ModelConfig, layout: HuggingFaceLayout): WeightRule[];
  /** Checkpoint tensors the importer skips on purpose (tied copies, DeepSeek-V3's MTP layers, rotary caches). */
  skips(name: string, config: ModelConfig): boolean;
}

/** The first reason in `checks` whose condition fails, or null. */
export function firstMisfit(checks: readonly (readonly [boolean, string])[]): string | null {
  return checks.find(([ok]) => !ok)?.[1] ?? null;
}
