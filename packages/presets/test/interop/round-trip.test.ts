// Round trips per architecture: config.json -> ModelConfig -> config.json -> the same ModelConfig; a tiny model
// built from a tiny config.json -> exported checkpoint -> loaded back with identical weights and logits (also in
// BF16 and from shards); and every tiny preset that an architecture holds exports and loads back.
import {
  fromBf16Bits,
  fromHost,
  Generator,
  liveTensorCount,
  loadSafetensors,
  serializeSafetensors,
  type Tensor,
  toBf16Bits,
} from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import {
  buildModel,
  exportHuggingFace,
  exportHuggingFaceConfig,
  type HuggingFaceConfig,
  importHuggingFaceConfig,
  loadHuggingFace,
  type ModelConfig,
  PRESET_NAMES,
  type TransformerLM,
  tinyPreset,
} from '../../src/index.js';
import { disposeOutput, ids as idsOf } from '../build-helpers.js';
import { TINY_CONFIGS } from './tiny-configs.js';

const IDS = [[5, 1, 30, 12, 7, 22]];

function logits(model: TransformerLM, config: ModelConfig): number[] {
  const ids = idsOf(IDS);
  const out = model.eval().forward(config.encoder ? { ids, encoderIds: ids } : { ids });
  const values = Array.from(out.logits.dataSync() as Float32Array);
  disposeOutput(out);
  ids.dispose();
  return values;
}

function weights(model: TransformerLM): Map<string, number[]> {
  return new Map([...model.stateDict()].map(([name, t]) => [name, Array.from(t.dataSync() as Float32Array)]));
}

/** A tiny model of `config` whose selection biases (V3) are not all zero, so their mapping is exercised. */
function build(config: ModelConfig, seed: number): TransformerLM {
  const model = buildModel(config, { generator: new Generator(seed) });
  for (const [name, t] of model.namedBuffers()) {
    if (!name.endsWith('expertBias')) continue;
    const values = Float32Array.from({ length: t.size }, (_, i) => 0.01 * ((i * 7) % 5));
    const next = fromHost(values, t.shape, 'f32');
    t.assign(next);
    next.dispose();
  }
  return model;
}

describe('config.json round trip', () => {
  for (const [architecture, json] of Object.entries(TINY_CONFIGS)) {
    it(`${architecture}: import -> export -> import gives the same ModelConfig`, () => {
      const config = importHuggingFaceConfig(json);
      const exported = exportHuggingFaceConfig(config);
      expect(exported.architectures).toEqual([architecture]);
      expect(importHuggingFaceConfig(exported)).toEqual(config);
      expect(importHuggingFaceConfig(JSON.stringify(exported))).toEqual(config);
    });
  }
});

describe('checkpoint round trip: build -> exportHuggingFace -> loadHuggingFace', () => {
  for (const [architecture, json] of Object.entries(TINY_CONFIGS)) {
    it(`${architecture}: identical weights and logits, nothing leaked`, async () => {
      const before = liveTensorCount();
      const config = importHuggingFaceConfig(json);
      const model = build(config, 3);
      const { configJson, safetensors, config: written } = await exportHuggingFace(model, config);
      expect(JSON.parse(configJson)).toEqual(written);
      const loaded = loadHuggingFace({ config: configJson, safetensors });
      expect(loaded.config).toEqual(config);
      expect(weights(loaded.model)).toEqual(weights(model));
      expect(logits(loaded.model, config)).toEqual(logits(model, config));
      model.dispose();
      loaded.model.dispose();
      expect(liveTensorCount()).toBe(before);
    });
  }

  it('BF16: the loaded weights are the originals rounded to bfloat16', async () => {
    const config = importHuggingFaceConfig(TINY_CONFIGS.DeepseekV3ForCausalLM as HuggingFaceConfig);
    const model = build(config, 4);
    const { safetensors, config: written } = await exportHuggingFace(model, config, { dtype: 'BF16' });
    expect(written.torch_dtype).toBe('bfloat16');
    const { tensors } = loadSafetensors(safetensors);
    expect(new Set([...tensors.values()].map((t) => t.dtype))).toEqual(new Set(['bf16']));
    for (const t of tensors.values()) t.dispose();
    const loaded = loadHuggingFace({ config: written, safetensors });
    const original = weights(model);
    for (const [name, values] of weights(loaded.model)) {
      expect(values, name).toEqual(original.get(name)?.map((v) => fromBf16Bits(toBf16Bits(v))));
    }
    model.dispose();
    loaded.model.dispose();
  });

  it('loads from shards, given as a list or as an index with named files', async () => {
    const config = importHuggingFaceConfig(TINY_CONFIGS.Qwen2MoeForCausalLM as HuggingFaceConfig);
    const model = build(config, 5);
    const { configJson, safetensors } = await exportHuggingFace(model, config);
    const { tensors } = loadSafetensors(safetensors);
    const names = [...tensors.keys()];
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap = Object.fromEntries(names.map((n, i) => [n, files[i % 2] as string]));
    const shardOf = (file: string) => {
      const part = new Map<string, Tensor>(
        names.filter((n) => weightMap[n] === file).map((n) => [n, tensors.get(n) as Tensor]),
      );
      return serializeSafetensors(part, { format: 'pt' });
    };
    const shards = {
      [files[0] as string]: await shardOf(files[0] as string),
      [files[1] as string]: await shardOf(files[1] as string),
    };
    for (const t of tensors.values()) t.dispose();
    const expected = logits(model, config);
    const index = JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap });
    for (const input of [
      { index, shards },
      { index: JSON.parse(index), shards: new Map(Object.entries(shards)) },
      Object.values(shards).reverse(),
    ]) {
      const loaded = loadHuggingFace({ config: configJson, safetensors: input });
      expect(logits(loaded.model, config)).toEqual(expected);
      loaded.model.dispose();
    }
    model.dispose();
  });
});

/** The tiny presets a supported architecture holds; the others have a feature none of them has. */
const EXPORTABLE = new Set([
  'switch-base-8',
  'switch-base-16',
  'switch-base-32',
  'switch-base-64',
  'switch-base-128',
  'switch-base-256',
  'switch-large-128',
  'switch-c-2048',
  'deepseek-v2',
  'deepseek-v2-lite',
  'deepseek-v3',
  'mixtral-8x7b',
  'mixtral-8x22b',
  'qwen1.5-moe-a2.7b',
  'olmoe-1b-7b',
]);

describe('tiny presets', () => {
  for (const name of PRESET_NAMES) {
    if (!EXPORTABLE.has(name)) {
      it(`${name}: exporting is an UNSUPPORTED error naming each architecture's reason`, () => {
        expect(() => exportHuggingFaceConfig(tinyPreset(name))).toThrow(
          /no supported Hugging Face architecture.*MixtralForCausalLM: /,
        );
      });
      continue;
    }
    it(`${name}: exports, imports back to the same structure, and loads with the same logits`, async () => {
      const preset = tinyPreset(name);
      // Switch's capacity factors have no config.json key (its expert_capacity is a per-sequence count), so the
      // import is dropless: compare against the dropless preset.
      const config =
        preset.encoder && preset.moe ? { ...preset, moe: { ...preset.moe, capacity: null } } : preset;
      const model = build(config, 6);
      const checkpoint = await exportHuggingFace(model, preset);
      const loaded = loadHuggingFace({ config: checkpoint.configJson, safetensors: checkpoint.safetensors });
      expect({ ...loaded.config, name: config.name, source: config.source }).toEqual(config);
      expect(logits(loaded.model, config)).toEqual(logits(model, config));
      model.dispose();
      loaded.model.dispose();
    });
  }
});
