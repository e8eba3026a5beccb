import { SwitchyardError } from '@switchyard/tensor';
import { type ModelConfig, validateConfig } from '../config.js';
import { ConfigReader, type HuggingFaceConfig } from './config-reader.js';
import { familyOf } from './families.js';
import type { Family, HuggingFaceLayout } from './family.js';

const OP = 'importHuggingFaceConfig';

/** Options of `importHuggingFaceConfig` (and `loadHuggingFace`). */
export interface ImportHuggingFaceConfigOptions {
  /**
   * Keys to import without: unknown keys, or values Switchyard cannot reproduce (DeepSeek's YaRN `rope_scaling`,
   * its fp8 `quantization_config`, a `sliding_window`). The model then differs from the checkpoint's in that
   * respect, which the config's `source` records ("imported without ..."). Default: none, so every such key is
   * an error naming it.
   */
  ignoreKeys?: readonly string[];
  /** The config's `name`. Default: `_name_or_path` when the file has one, else its `model_type`. */
  name?: string;
}

/** Parses a config.json given as text or as an object. */
export function parseConfigJson(json: HuggingFaceConfig | string, op: string): HuggingFaceConfig {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new SwitchyardError('INVALID_CONFIG', op, `config.json is not valid JSON (${why.slice(0, 120)})`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SwitchyardError(
      'INVALID_CONFIG',
      op,
      `config.json must hold a JSON object, got ${typeof value}`,
    );
  }
  return value as HuggingFaceConfig;
}

function checkIgnoreKeys(keys: unknown): readonly string[] {
  if (keys === undefined) return [];
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      OP,
      `ignoreKeys must be a list of key names, got ${String(keys)}`,
    );
  }
  return keys;
}

/** What the importer learns from a config.json: our config, its architecture and its checkpoint layout. */
export function readHuggingFaceConfig(
  input: HuggingFaceConfig | string,
  options: ImportHuggingFaceConfigOptions = {},
): { config: ModelConfig; family: Family; layout: HuggingFaceLayout } {
  if (options === null || typeof options !== 'object') {
    throw new SwitchyardError('INVALID_ARGUMENT', OP, 'options must be { ignoreKeys?, name? }');
  }
  const json = parseConfigJson(input, OP);
  const family = familyOf(json);
  const reader = new ConfigReader(json, family.architecture, checkIgnoreKeys(options.ignoreKeys));
  reader.skip('architectures', 'model_type');
  const pathName = reader.raw('_name_or_path');
  const { structure, layout } = family.read(reader);
  reader.finish();
  const name =
    options.name ?? (typeof pathName === 'string' && pathName.length > 0 ? pathName : family.modelType);
  const without =
    reader.approximated.length > 0 ? `, imported without ${reader.approximated.join(', ')}` : '';
  const config: ModelConfig = {
    name,
    source: `Hugging Face config.json (${family.architecture})${without}`,
    ...structure,
  };
  try {
    validateConfig(config);
  } catch (err) {
    if (!(err instanceof SwitchyardError)) throw err;
    throw new SwitchyardError(
      'INVALID_CONFIG',
      OP,
      `config.json of ${family.architecture} describes an invalid model: ${err.message}`,
    );
  }
  return { config, family, layout };
}

/**
 * Reads a Hugging Face `config.json` (text or parsed) of MixtralForCausalLM, Qwen2MoeForCausalLM,
 * DeepseekV2ForCausalLM, DeepseekV3ForCausalLM, OlmoeForCausalLM or SwitchTransformersForConditionalGeneration
 * into a ModelConfig that `buildModel` and `countParameters` take. The architecture comes from `architectures`
 * (or `model_type`); any other is an UNSUPPORTED error listing the supported ones.
 *
 * Every key is accounted for:
 * - sizes (`hidden_size`, `num_hidden_layers`, ranks and widths) are required; behavioural flags default as in
 *   transformers' config class of the architecture (e.g. `norm_topk_prob` false for Qwen2-MoE, true for V3);
 * - `HUGGING_FACE_IGNORED_KEYS` (bookkeeping, training-only coefficients, dropouts) are dropped on purpose, as
 *   are, per architecture: `num_key_value_heads` of DeepSeek (every MLA head has its own keys); Switch's
 *   `feed_forward_proj`, `is_gated_act`, `router_type`, `router_ignore_padding_tokens` (transformers never reads
 *   them), `router_dtype` (our routers always compute in f32), `batch_prioritized_routing` and
 *   `expert_capacity`: the import is dropless (`capacity: null`), which equals transformers' output whenever no
 *   expert receives more than `expert_capacity` tokens of a sequence; Qwen2-MoE's `sliding_window` and
 *   `max_window_layers` while `use_sliding_window` is false;
 * - a value Switchyard cannot reproduce is an UNSUPPORTED error naming the key and why: scaled rotary
 *   (`rope_scaling`), sliding windows, Mixtral's `router_jitter_noise`, OLMoE's `clip_qkv`, DeepSeek's attention
 *   or MLP biases, `quantization_config`, `moe_layer_freq` ≠ 1, `rms_norm_eps` ≠ 1e-6 (transformers hard-codes
 *   1e-6 in the latent norms), V2's `norm_topk_prob`; any other key is an UNSUPPORTED "unknown key" error. List
 *   such keys in `options.ignoreKeys` to import without them.
 *
 * The Qwen2-MoE shared expert and its sigmoid gate become `moe.shared` with `gate: 'sigmoid'`; DeepSeek's
 * `first_k_dense_replace`, `n_group`/`topk_group` and `e_score_correction_bias` become `{ firstDense }`,
 * `router.groupLimit` and `router.selectionBias`; `num_nextn_predict_layers` becomes `mtp`; Switch's sparse
 * steps become `{ every, offset: 1 }` placements.
 *
 * @example
 * ```ts
 * const config = importHuggingFaceConfig(readFileSync('Mixtral-8x7B-v0.1/config.json', 'utf8'));
 * countParameters(config).total; // 46_702_792_704
 * importHuggingFaceConfig(deepseekV3Json, { ignoreKeys: ['rope_scaling', 'quantization_config'] });
 * ```
 */
export function importHuggingFaceConfig(
  json: HuggingFaceConfig | string,
  options: ImportHuggingFaceConfigOptions = {},
): ModelConfig {
  return readHuggingFaceConfig(json, options).config;
}
