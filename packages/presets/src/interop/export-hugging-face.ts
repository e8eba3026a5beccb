import {
  noGrad,
  type SafetensorsFloatDType,
  SwitchyardError,
  serializeSafetensors,
  type Tensor,
  tidy,
} from '@switchyard/tensor';
import type { TransformerLM } from '../build/model.js';
import type { ModelConfig } from '../config.js';
import { countParameters } from '../count.js';
import type { HuggingFaceConfig } from './config-reader.js';
import { toHF } from './convert-weights.js';
import { exportFamily, exportHuggingFaceConfig } from './export-config.js';

const OP = 'exportHuggingFace';

/** Options of `exportHuggingFace`. */
export interface ExportHuggingFaceOptions {
  /** The float encoding of the weights (rounded to nearest even). Default 'F32'. */
  dtype?: SafetensorsFloatDType;
}

/** What `exportHuggingFace` writes: the two files of a Hugging Face checkpoint. */
export interface HuggingFaceCheckpoint {
  /** The parsed config.json. */
  config: HuggingFaceConfig;
  /** config.json's text (two-space indented, trailing newline). */
  configJson: string;
  /** model.safetensors, with `{ format: 'pt' }` metadata as transformers expects. */
  safetensors: Uint8Array;
}

/**
 * Writes a model built from `config` as a Hugging Face checkpoint of the architecture that holds the config
 * (`exportHuggingFaceConfig`): config.json and model.safetensors with transformers' tensor names, nn.Linear
 * weights [out, in], one tensor per expert, DeepSeek's rotary rows interleaved as in the released checkpoints
 * and V3's `expertBias` as `e_score_correction_bias`. `loadHuggingFace` reads it back to identical weights and
 * logits. DeepSeek-V3's MTP module is not part of a built model: the config keeps `num_nextn_predict_layers` but
 * the checkpoint has no MTP layers (transformers skips them anyway).
 *
 * The model must be the one `buildModel(config)` makes: a tensor the architecture does not place, or a size
 * other than `countParameters(config).total`, is an INVALID_ARGUMENT error. Configs no supported architecture
 * holds (GLaM, GShard, ST-MoE, DBRX, DeepSeekMoE's multi-head attention) are UNSUPPORTED errors naming why.
 *
 * @example
 * ```ts
 * const { configJson, safetensors } = await exportHuggingFace(model, config, { dtype: 'BF16' });
 * writeFileSync('out/config.json', configJson);
 * writeFileSync('out/model.safetensors', safetensors);
 * ```
 */
export async function exportHuggingFace(
  model: TransformerLM,
  config: ModelConfig,
  options: ExportHuggingFaceOptions = {},
): Promise<HuggingFaceCheckpoint> {
  const json = exportHuggingFaceConfig(config, options.dtype ? { dtype: options.dtype } : {});
  const family = exportFamily(config, OP);
  const rules = family.weightRules(config, { ropeInterleave: true });
  const state = model.stateDict();
  const size = [...state.values()].reduce((n, t) => n + t.size, 0);
  const counted = countParameters(config).total;
  const unplaced = [...state.keys()].filter((name) => !rules.some((r) => r.ours === name));
  const absent = rules.filter((r) => !state.has(r.ours)).map((r) => r.ours);
  if (unplaced.length > 0 || absent.length > 0 || size !== counted) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      OP,
      `the model is not the one config '${config.name}' builds: ${size} weights vs ${counted} counted` +
        (unplaced.length > 0
          ? `; ${family.architecture} has no place for ${unplaced.slice(0, 6).join(', ')}`
          : '') +
        (absent.length > 0 ? `; the model lacks ${absent.slice(0, 6).join(', ')}` : ''),
    );
  }
  const tensors = new Map<string, Tensor>();
  const created: Tensor[] = [];
  try {
    for (const rule of rules) {
      const ours = state.get(rule.ours) as Tensor;
      const pairs = tidy(() => noGrad(() => toHF(rule, ours)));
      for (const [name, tensor] of pairs) {
        tensors.set(name, tensor);
        if (tensor !== ours) created.push(tensor);
      }
    }
    const safetensors = await serializeSafetensors(
      tensors,
      { format: 'pt' },
      options.dtype ? { dtype: options.dtype } : {},
    );
    return { config: json, configJson: `${JSON.stringify(json, null, 2)}\n`, safetensors };
  } finally {
    for (const t of created) t.dispose();
  }
}
