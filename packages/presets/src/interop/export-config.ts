import { type SafetensorsFloatDType, SwitchyardError } from '@switchyard/tensor';
import { type ModelConfig, validateConfig } from '../config.js';
import type { HuggingFaceConfig } from './config-reader.js';
import { FAMILIES } from './families.js';
import type { Family } from './family.js';

const TORCH_DTYPES: Record<SafetensorsFloatDType, string> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
};

/**
 * The architecture that can hold `config`: the first of Switch Transformers, DeepSeek-V3, DeepSeek-V2,
 * Qwen2-MoE, OLMoE and Mixtral without a misfit. None: an UNSUPPORTED error giving each one's reason.
 */
export function exportFamily(config: ModelConfig, op: string): Family {
  validateConfig(config);
  const reasons: string[] = [];
  for (const family of FAMILIES) {
    const why = family.misfit(config);
    if (why === null) return family;
    reasons.push(`${family.architecture}: ${why}`);
  }
  throw new SwitchyardError(
    'UNSUPPORTED',
    op,
    `no supported Hugging Face architecture holds config '${config.name}' (${reasons.join('; ')})`,
  );
}

/** Options of `exportHuggingFaceConfig`. */
export interface ExportHuggingFaceConfigOptions {
  /** The checkpoint's float encoding, written as `torch_dtype`. Default 'F32'. */
  dtype?: SafetensorsFloatDType;
}

/**
 * Writes `config` as the config.json of the Hugging Face architecture that holds it (see `exportFamily`):
 * `architectures`, `model_type`, `_name_or_path` (the config's name), `torch_dtype` and the architecture's keys,
 * sorted by name as transformers writes them. `importHuggingFaceConfig` reads it back to the same config for
 * any config it produced itself. Switch Transformers gets `expert_capacity` 64 (the released models' value):
 * transformers drops a sequence's tokens beyond it, where Switchyard's capacity is a factor over the batch.
 *
 * @example
 * ```ts
 * const json = exportHuggingFaceConfig(tinyPreset('mixtral-8x7b'));
 * json.architectures; // ['MixtralForCausalLM']
 * exportHuggingFaceConfig(getPreset('glam-64b-64e')); // throws UNSUPPORTED with each architecture's reason
 * ```
 */
export function exportHuggingFaceConfig(
  config: ModelConfig,
  options: ExportHuggingFaceConfigOptions = {},
): HuggingFaceConfig {
  const dtype = options.dtype ?? 'F32';
  if (!Object.hasOwn(TORCH_DTYPES, dtype)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'exportHuggingFaceConfig',
      `dtype must be 'F32', 'F16' or 'BF16', got ${String(dtype)}`,
    );
  }
  const family = exportFamily(config, 'exportHuggingFaceConfig');
  const json: HuggingFaceConfig = {
    ...family.write(config),
    architectures: [family.architecture],
    model_type: family.modelType,
    _name_or_path: config.name,
    torch_dtype: TORCH_DTYPES[dtype],
  };
  return Object.fromEntries(Object.entries(json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
