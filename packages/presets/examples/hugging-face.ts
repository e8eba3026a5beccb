// README example: read a published config.json, then write a model in the Hugging Face layout and load it back.
import { disposeStats } from '@switchyard/moe';
import {
  buildModel,
  countParameters,
  exportHuggingFace,
  formatParameterCount,
  huggingFaceWeightMap,
  importHuggingFaceConfig,
  loadHuggingFace,
  type TransformerLM,
  tinyPreset,
} from '@switchyard/presets';
import { disposeRouting } from '@switchyard/routers';
import { fromHost, Generator, parseSafetensors } from '@switchyard/tensor';

/** mistralai/Mixtral-8x7B-v0.1's config.json, as published on the Hub. */
const MIXTRAL_8X7B = `{
  "architectures": ["MixtralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 32, "num_experts_per_tok": 2,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "num_local_experts": 8, "output_router_logits": false,
  "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.02, "sliding_window": null,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.36.0.dev0",
  "use_cache": true, "vocab_size": 32000
}`;

function logits(model: TransformerLM): Float32Array {
  const ids = fromHost(Int32Array.from([1, 7, 42, 3, 99, 12]), [1, 6], 'i32');
  const out = model.eval().forward({ ids });
  const values = Float32Array.from(out.logits.dataSync() as Float32Array);
  out.logits.dispose();
  for (const { routing, stats } of out.moe) {
    disposeRouting(routing);
    disposeStats(stats);
  }
  ids.dispose();
  return values;
}

export async function huggingFaceExample(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = [];
  const mixtral = importHuggingFaceConfig(MIXTRAL_8X7B, { name: 'mixtral-8x7b' });
  const { total, active } = countParameters(mixtral);
  lines.push(
    `Mixtral-8x7B config.json -> ${mixtral.name}: ${formatParameterCount(total)} parameters, ${formatParameterCount(active)} active`,
  );

  const config = tinyPreset('deepseek-v3');
  const model = buildModel(config, { generator: new Generator(0) });
  const { config: json, configJson, safetensors } = await exportHuggingFace(model, config);
  const { tensors } = parseSafetensors(safetensors);
  lines.push(
    `${config.name} -> ${json.architectures}: config.json ${configJson.length} bytes, ` +
      `model.safetensors ${safetensors.length} bytes, ${tensors.size} tensors`,
  );
  const shape = (name: string) => `[${tensors.get(name)?.shape.join(', ')}]`;
  const ours = model.stateDict();
  for (const rule of huggingFaceWeightMap(config)) {
    if (rule.ours === 'decoder.blocks.1.ffn.experts.w1' && rule.kind === 'experts') {
      const name = rule.hf[0] as string;
      lines.push(
        `  ${rule.ours} [${ours.get(rule.ours)?.shape.join(', ')}] <- ${rule.hf.length} x ${name.replace('.0.', '.{e}.')} ${shape(name)}`,
      );
    }
    if (rule.ours === 'decoder.blocks.1.attention.wqB' && rule.kind === 'linear') {
      lines.push(
        `  ${rule.ours} [${ours.get(rule.ours)?.shape.join(', ')}] <- ${rule.hf} ${shape(rule.hf)}, rotary rows interleaved`,
      );
    }
  }

  const loaded = loadHuggingFace({ config: configJson, safetensors });
  const before = logits(model);
  const after = logits(loaded.model);
  const diff = before.reduce((m, v, i) => Math.max(m, Math.abs(v - (after[i] as number))), 0);
  lines.push(`reloaded ${loaded.config.name}: same logits (max |difference| ${diff})`);
  model.dispose();
  loaded.model.dispose();
  for (const line of lines) log(line);
  return lines;
}
