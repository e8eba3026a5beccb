// The config.json files of the published checkpoints (configs/*.json, copied from the Hugging Face Hub) import
// to the structure of our presets, so countParameters gives the published sizes; and exporting the imported
// config writes back the Hub's own keys and values.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  countParameters,
  exportHuggingFaceConfig,
  getPreset,
  type HuggingFaceConfig,
  importHuggingFaceConfig,
  type PresetName,
} from '../../src/index.js';

interface Published {
  /** configs/<file>.json, from the Hub repository named. */
  file: string;
  hub: string;
  preset: PresetName;
  /** Keys whose effect Switchyard does not reproduce, imported without on purpose. */
  ignoreKeys: string[];
}

const PUBLISHED: Published[] = [
  { file: 'mixtral-8x7b', hub: 'mistralai/Mixtral-8x7B-v0.1', preset: 'mixtral-8x7b', ignoreKeys: [] },
  { file: 'mixtral-8x22b', hub: 'mistralai/Mixtral-8x22B-v0.1', preset: 'mixtral-8x22b', ignoreKeys: [] },
  { file: 'qwen1.5-moe-a2.7b', hub: 'Qwen/Qwen1.5-MoE-A2.7B', preset: 'qwen1.5-moe-a2.7b', ignoreKeys: [] },
  {
    file: 'deepseek-v2-lite',
    hub: 'deepseek-ai/DeepSeek-V2-Lite',
    preset: 'deepseek-v2-lite',
    ignoreKeys: ['rope_scaling'],
  },
  {
    file: 'deepseek-v2',
    hub: 'deepseek-ai/DeepSeek-V2',
    preset: 'deepseek-v2',
    ignoreKeys: ['rope_scaling'],
  },
  {
    file: 'deepseek-v3',
    hub: 'deepseek-ai/DeepSeek-V3',
    preset: 'deepseek-v3',
    ignoreKeys: ['rope_scaling', 'quantization_config'],
  },
  { file: 'olmoe-1b-7b', hub: 'allenai/OLMoE-1B-7B-0924', preset: 'olmoe-1b-7b', ignoreKeys: [] },
  { file: 'switch-base-8', hub: 'google/switch-base-8', preset: 'switch-base-8', ignoreKeys: [] },
];

function read(file: string): HuggingFaceConfig {
  return JSON.parse(readFileSync(new URL(`./configs/${file}.json`, import.meta.url), 'utf8'));
}

/** Keys our export writes that the Hub file leaves to transformers' defaults (same values). */
const DEFAULTED = new Set(['head_dim', 'qkv_bias', 'mlp_only_layers', 'tie_word_embeddings']);

describe('published config.json files', () => {
  for (const { file, hub, preset, ignoreKeys } of PUBLISHED) {
    it(`${hub}: imports to the ${preset} preset's structure and parameter counts`, () => {
      const config = importHuggingFaceConfig(read(file), { ignoreKeys });
      const expected = getPreset(preset);
      // Switch: transformers' expert_capacity is a per-sequence count, imported dropless.
      const moe = expected.moe && {
        ...expected.moe,
        capacity: expected.encoder ? null : expected.moe.capacity,
      };
      expect({ ...config, name: expected.name, source: expected.source }).toEqual({ ...expected, moe });
      expect(countParameters(config)).toEqual(countParameters(expected));
      if (ignoreKeys.length > 0) expect(config.source).toContain(`imported without ${ignoreKeys.join(', ')}`);
    });

    it(`${hub}: exporting the imported config writes the Hub's keys and values back`, () => {
      const json = read(file);
      const exported = exportHuggingFaceConfig(importHuggingFaceConfig(json, { ignoreKeys }));
      for (const [key, value] of Object.entries(exported)) {
        if (key === 'torch_dtype' || key === '_name_or_path') continue;
        if (key in json) expect(value, key).toEqual(json[key]);
        else expect(DEFAULTED.has(key), `${key} is not in the Hub's file`).toBe(true);
      }
    });
  }

  it('DeepSeek-V3 without ignoreKeys: an UNSUPPORTED error naming the YaRN rope_scaling and the way out', () => {
    expect(() => importHuggingFaceConfig(read('deepseek-v3'))).toThrow(
      /rope_scaling = .*yarn.* is not supported: .*pass ignoreKeys: \['rope_scaling'\]/,
    );
  });
});
