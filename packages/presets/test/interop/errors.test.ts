// Every way a config.json or checkpoint can be wrong gives a SwitchyardError with its code, naming the key or
// tensor (and its shape) — never a crash, a silent fallback or a half-loaded model.
import {
  Generator,
  liveTensorCount,
  loadSafetensors,
  serializeSafetensors,
  type Tensor,
  zeros,
} from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import {
  buildModel,
  exportHuggingFace,
  exportHuggingFaceConfig,
  getPreset,
  HUGGING_FACE_IGNORED_KEYS,
  type HuggingFaceConfig,
  importHuggingFaceConfig,
  loadHuggingFace,
  tinyPreset,
} from '../../src/index.js';
import { tinyDeepseekV2, tinyDeepseekV3, tinyMixtral, tinyQwen2Moe, tinySwitch } from './tiny-configs.js';

/** Runs `fn` and returns the SwitchyardError's code and message. */
function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    const e = err as { name: string; code: string; message: string };
    expect(e.name).toBe('SwitchyardError');
    return { code: e.code, message: e.message };
  }
  throw new Error('expected an error');
}

function without(json: HuggingFaceConfig, key: string): HuggingFaceConfig {
  const copy = { ...json };
  delete copy[key];
  return copy;
}

describe('importHuggingFaceConfig: bad config.json', () => {
  it('an unsupported architecture lists the supported ones', () => {
    const e = failure(() =>
      importHuggingFaceConfig({ architectures: ['LlamaForCausalLM'], model_type: 'llama' }),
    );
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(
      /\["LlamaForCausalLM"\] is not supported; Switchyard reads .*MixtralForCausalLM \(mixtral\)/,
    );
    expect(e.message).toContain('SwitchTransformersForConditionalGeneration (switch_transformers)');
  });

  it('architectures and model_type must agree; model_type alone is enough', () => {
    expect(failure(() => importHuggingFaceConfig({ ...tinyMixtral, model_type: 'olmoe' })).message).toMatch(
      /model_type "olmoe" does not match architectures \["MixtralForCausalLM"\]/,
    );
    expect(importHuggingFaceConfig(without(tinyMixtral, 'architectures')).moe?.numExperts).toBe(4);
  });

  it('text that is not JSON, or JSON that is not an object', () => {
    expect(failure(() => importHuggingFaceConfig('{"hidden_size": ')).message).toMatch(/not valid JSON/);
    expect(failure(() => importHuggingFaceConfig('[1, 2]')).code).toBe('INVALID_CONFIG');
  });

  it('an unknown key is refused, naming it and the way to import without it', () => {
    const e = failure(() => importHuggingFaceConfig({ ...tinyMixtral, attn_logit_softcapping: 30 }));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain("unknown key 'attn_logit_softcapping'");
    expect(e.message).toContain("ignoreKeys: ['attn_logit_softcapping']");
    const config = importHuggingFaceConfig(
      { ...tinyMixtral, attn_logit_softcapping: 30 },
      { ignoreKeys: ['attn_logit_softcapping'] },
    );
    expect(config.source).toBe(
      'Hugging Face config.json (MixtralForCausalLM), imported without attn_logit_softcapping',
    );
  });

  it('the documented bookkeeping keys are accepted and dropped', () => {
    const noisy = { ...tinyMixtral, ...Object.fromEntries(HUGGING_FACE_IGNORED_KEYS.map((k) => [k, 1])) };
    expect(importHuggingFaceConfig(noisy)).toEqual(importHuggingFaceConfig(tinyMixtral));
  });

  it('a missing size or a wrong type names the key', () => {
    expect(failure(() => importHuggingFaceConfig(without(tinyMixtral, 'hidden_size'))).message).toBe(
      '[importHuggingFaceConfig] config.json of MixtralForCausalLM: hidden_size is missing',
    );
    expect(
      failure(() => importHuggingFaceConfig({ ...tinyMixtral, num_hidden_layers: '2' })).message,
    ).toContain(`num_hidden_layers must be an integer >= 1, got '2'`);
    expect(
      failure(() => importHuggingFaceConfig({ ...tinyMixtral, num_key_value_heads: 3 })).message,
    ).toContain('num_key_value_heads must divide num_attention_heads (4), got 3');
    expect(failure(() => importHuggingFaceConfig({ ...tinyMixtral, hidden_act: 'mish' })).message).toMatch(
      /hidden_act must be one of 'silu', .*got 'mish'/,
    );
  });

  it('features Switchyard cannot reproduce are UNSUPPORTED, naming the key and why', () => {
    const cases: [HuggingFaceConfig, RegExp][] = [
      [
        { ...tinyMixtral, rope_scaling: { type: 'linear', factor: 2 } },
        /rope_scaling = .* no frequency scaling/,
      ],
      [{ ...tinyMixtral, sliding_window: 4096 }, /sliding_window = 4096 .* never a sliding window/],
      [{ ...tinyMixtral, router_jitter_noise: 0.1 }, /router_jitter_noise = 0.1 .* experts' input too/],
      [{ ...tinyQwen2Moe, use_sliding_window: true }, /sliding_window = 32768/],
      [{ ...tinyDeepseekV2, norm_topk_prob: true }, /norm_topk_prob = true .* disagree/],
      [{ ...tinyDeepseekV3, rms_norm_eps: 1e-5 }, /rms_norm_eps = 0.00001 .* latent norms/],
      [{ ...tinyDeepseekV3, moe_layer_freq: 2 }, /moe_layer_freq = 2/],
      [{ ...tinyDeepseekV3, attention_bias: true }, /attention_bias = true/],
      [{ ...tinySwitch, num_selected_experts: 2 }, /num_selected_experts = 2 .* top-1/],
    ];
    for (const [json, message] of cases) {
      const e = failure(() => importHuggingFaceConfig(json));
      expect(e.code).toBe('UNSUPPORTED');
      expect(e.message).toMatch(message);
    }
  });

  it('inconsistent routing keys name both keys', () => {
    expect(failure(() => importHuggingFaceConfig({ ...tinyDeepseekV3, n_group: 3 })).message).toContain(
      'n_group must divide n_routed_experts (8), got 3',
    );
    expect(
      failure(() => importHuggingFaceConfig({ ...tinyDeepseekV3, scoring_func: 'softmax' })).message,
    ).toContain("scoring_func must be one of 'sigmoid', got 'softmax'");
    expect(
      failure(() => importHuggingFaceConfig({ ...tinySwitch, encoder_sparse_step: 3 })).message,
    ).toContain('encoder_sparse_step is 3 but num_sparse_encoder_layers (2) of 4 layers gives 2');
    expect(
      failure(() => importHuggingFaceConfig({ ...tinyMixtral, num_experts_per_tok: 5 })).message,
    ).toContain('num_experts_per_tok must be at most num_local_experts (4), got 5');
  });

  it("transformers 5's rope_parameters and layer_types are read; a scaled rotary there is refused", () => {
    const v5 = {
      ...without(tinyMixtral, 'rope_theta'),
      rope_parameters: { rope_type: 'default', rope_theta: 5000 },
      layer_types: ['full_attention', 'full_attention'],
    };
    expect(importHuggingFaceConfig(v5).position).toEqual({ kind: 'rotary', base: 5000 });
    const yarn = { ...v5, rope_parameters: { rope_type: 'yarn', rope_theta: 5000, factor: 4 } };
    expect(failure(() => importHuggingFaceConfig(yarn)).message).toMatch(
      /rope_parameters = .*yarn.* not supported/,
    );
    const sliding = { ...v5, layer_types: ['sliding_attention', 'full_attention'] };
    expect(failure(() => importHuggingFaceConfig(sliding)).message).toMatch(
      /layer_types = .* sliding window/,
    );
  });

  it('ignoreKeys must be a list of names', () => {
    expect(
      failure(() => importHuggingFaceConfig(tinyMixtral, { ignoreKeys: 'rope_scaling' as never })).code,
    ).toBe('INVALID_ARGUMENT');
  });
});

describe('loadHuggingFace: bad checkpoints', () => {
  async function checkpoint(json: HuggingFaceConfig): Promise<Map<string, Tensor>> {
    const config = importHuggingFaceConfig(json);
    const model = buildModel(config, { generator: new Generator(0) });
    const { safetensors } = await exportHuggingFace(model, config);
    model.dispose();
    return loadSafetensors(safetensors).tensors;
  }
  async function bytes(tensors: Map<string, Tensor>): Promise<Uint8Array> {
    return serializeSafetensors(tensors, { format: 'pt' });
  }

  it('a missing tensor is named with the parameter it was for; nothing is left allocated', async () => {
    const tensors = await checkpoint(tinyMixtral);
    const name = 'model.layers.1.block_sparse_moe.experts.3.w2.weight';
    tensors.get(name)?.dispose();
    tensors.delete(name);
    const file = await bytes(tensors);
    const before = liveTensorCount();
    const e = failure(() => loadHuggingFace({ config: tinyMixtral, safetensors: file }));
    expect(e.message).toContain(
      `lacks 1 tensor(s) mixtral needs: ${name} (for decoder.blocks.1.ffn.experts.w2)`,
    );
    expect(liveTensorCount()).toBe(before);
    for (const t of tensors.values()) t.dispose();
  });

  it('a tensor the config has no place for is named', async () => {
    const tensors = await checkpoint(tinyMixtral);
    tensors.set('model.layers.7.self_attn.q_proj.weight', zeros([4, 4]));
    const file = await bytes(tensors);
    expect(failure(() => loadHuggingFace({ config: tinyMixtral, safetensors: file })).message).toContain(
      'holds 1 tensor(s) MixtralForCausalLM with this config.json has no place for: model.layers.7.self_attn.q_proj.weight',
    );
    for (const t of tensors.values()) t.dispose();
  });

  it('a wrong shape names the tensor, its shape and the one the config gives', async () => {
    const tensors = await checkpoint(tinyMixtral);
    const name = 'model.layers.0.self_attn.k_proj.weight';
    tensors.get(name)?.dispose();
    tensors.set(name, zeros([32, 16]));
    const file = await bytes(tensors);
    const before = liveTensorCount();
    const e = failure(() => loadHuggingFace({ config: tinyMixtral, safetensors: file }));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toBe(
      `[loadHuggingFace] tensor '${name}' is [32, 16] but the config gives [16, 32] (for decoder.blocks.0.attention.wk)`,
    );
    expect(liveTensorCount()).toBe(before);
    for (const t of tensors.values()) t.dispose();
  });

  it('an integer tensor where a weight belongs is UNSUPPORTED', async () => {
    const tensors = await checkpoint(tinyMixtral);
    const name = 'model.norm.weight';
    tensors.get(name)?.dispose();
    tensors.set(name, zeros([32], 'i32'));
    const file = await bytes(tensors);
    expect(failure(() => loadHuggingFace({ config: tinyMixtral, safetensors: file })).message).toContain(
      `tensor '${name}' is I32; weights must be F32, F16 or BF16`,
    );
    for (const t of tensors.values()) t.dispose();
  });

  it('a truncated or hostile file is CORRUPT_FILE naming the file, before anything is allocated', async () => {
    const tensors = await checkpoint(tinyMixtral);
    const file = await bytes(tensors);
    for (const t of tensors.values()) t.dispose();
    const before = liveTensorCount();
    const truncated = failure(() =>
      loadHuggingFace({ config: tinyMixtral, safetensors: file.subarray(0, 1000) }),
    );
    expect(truncated.code).toBe('CORRUPT_FILE');
    expect(truncated.message).toMatch(/^\[loadHuggingFace\] model\.safetensors: /);
    const hostile = file.slice();
    new DataView(hostile.buffer).setBigUint64(0, 2n ** 62n, true);
    expect(failure(() => loadHuggingFace({ config: tinyMixtral, safetensors: hostile })).message).toMatch(
      /header length \d+ exceeds the maximum/,
    );
    expect(liveTensorCount()).toBe(before);
  });

  it('shards: a tensor in two files, a shard the index names but was not given, an unnamed shard', async () => {
    const tensors = await checkpoint(tinyMixtral);
    const file = await bytes(tensors);
    for (const t of tensors.values()) t.dispose();
    expect(
      failure(() => loadHuggingFace({ config: tinyMixtral, safetensors: [file, file] })).message,
    ).toMatch(/appears in more than one file \(again in shard 1\)/);
    const names = [...loadSafetensors(file).tensors].map(([name, t]) => {
      t.dispose();
      return name;
    });
    const index = {
      weight_map: Object.fromEntries(names.map((n) => [n, 'model-00001-of-00002.safetensors'])),
    };
    expect(
      failure(() => loadHuggingFace({ config: tinyMixtral, safetensors: { index, shards: {} } })).message,
    ).toContain("the index names shard 'model-00001-of-00002.safetensors', which was not given");
    const shards = { 'model-00001-of-00002.safetensors': file, 'extra.safetensors': file };
    expect(
      failure(() => loadHuggingFace({ config: tinyMixtral, safetensors: { index, shards } })).message,
    ).toContain("shard 'extra.safetensors' is not named by the index");
  });

  it("skips DeepSeek-V3's MTP layers and a tied embedding's stored copies", async () => {
    const v3 = await checkpoint(tinyDeepseekV3);
    v3.set('model.layers.2.eh_proj.weight', zeros([32, 64]));
    v3.set('model.layers.2.enorm.weight', zeros([32]));
    const { model } = loadHuggingFace({ config: tinyDeepseekV3, safetensors: await bytes(v3) });
    model.dispose();
    // Only num_nextn_predict_layers (1) layers after the main stack are MTP layers.
    v3.set('model.layers.3.enorm.weight', zeros([32]));
    const beyond = await bytes(v3);
    expect(failure(() => loadHuggingFace({ config: tinyDeepseekV3, safetensors: beyond })).message).toContain(
      'has no place for: model.layers.3.enorm.weight',
    );
    for (const t of v3.values()) t.dispose();
    const t5 = await checkpoint(tinySwitch);
    const shared = t5.get('shared.weight') as Tensor;
    for (const copy of ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', 'lm_head.weight']) {
      t5.set(copy, shared.mul(1));
    }
    const loaded = loadHuggingFace({ config: tinySwitch, safetensors: await bytes(t5) });
    loaded.model.dispose();
    for (const t of t5.values()) t.dispose();
    const tied = { ...tinyMixtral, tie_word_embeddings: true };
    const mixtral = await checkpoint(tied);
    expect(mixtral.has('lm_head.weight')).toBe(false);
    mixtral.set('lm_head.weight', (mixtral.get('model.embed_tokens.weight') as Tensor).mul(1));
    const withCopy = loadHuggingFace({ config: tied, safetensors: await bytes(mixtral) });
    expect(withCopy.model.head).toBe(null);
    withCopy.model.dispose();
    for (const t of mixtral.values()) t.dispose();
  });
});

describe('exportHuggingFace: what cannot be written', () => {
  it('a config no architecture holds gives each architecture’s reason', () => {
    const e = failure(() => exportHuggingFaceConfig(getPreset('glam-64b-64e')));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain("no supported Hugging Face architecture holds config 'glam-64b-64e'");
    expect(e.message).toContain("MixtralForCausalLM: position.kind 'relative-bias' (rotary only)");
    expect(e.message).toContain('SwitchTransformersForConditionalGeneration: a decoder-only model');
  });

  it('a model that is not the one the config builds', async () => {
    const model = buildModel(tinyPreset('olmoe-1b-7b'), { generator: new Generator(0) });
    await expect(exportHuggingFace(model, tinyPreset('mixtral-8x7b'))).rejects.toThrow(
      /the model is not the one config 'mixtral-8x7b-tiny' builds/,
    );
    model.dispose();
  });
});
