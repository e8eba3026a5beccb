// Independent reference forward passes of the Hugging Face architectures, written from transformers' modeling
// code and reading the checkpoint tensors by their Hugging Face names only ([out, in] Linear weights, one tensor
// per expert, DeepSeek's interleaved rotary rows). Plain float64 loops over number[][]: slow and obvious, sharing
// nothing with the code under test, so a wrong transpose, name or permutation there shows up as different logits.
import { fromHost, Generator, serializeSafetensors, type Tensor } from '@switchyard/tensor';
import type { HuggingFaceConfig } from '../../src/index.js';

type Vec = number[];
type Mat = number[][];

/** Random checkpoint tensors by Hugging Face name, kept as f32 (what the file holds) for the reference. */
export class Checkpoint {
  readonly arrays = new Map<string, { shape: number[]; data: Float32Array }>();

  constructor(shapes: Record<string, number[]>, seed: number) {
    const g = new Generator(seed);
    for (const [name, shape] of Object.entries(shapes)) {
      const t = g.normal(shape, 0, 1);
      const noise = t.dataSync() as Float32Array;
      t.dispose();
      const data = new Float32Array(noise.length);
      const fanIn = shape.length > 1 ? (shape.at(-1) as number) : 1;
      for (let i = 0; i < data.length; i++) {
        const n = noise[i] as number;
        if (/norm/.test(name)) data[i] = 1 + 0.2 * n;
        else if (name.endsWith('e_score_correction_bias')) data[i] = 0.1 + 0.05 * n;
        else if (/embed_tokens|shared\.weight|relative_attention_bias/.test(name)) data[i] = n;
        else data[i] = n / Math.sqrt(fanIn);
      }
      this.arrays.set(name, { shape, data });
    }
  }

  /** model.safetensors of these tensors (F32). */
  async bytes(): Promise<Uint8Array> {
    const tensors = new Map<string, Tensor>();
    for (const [name, { shape, data }] of this.arrays) tensors.set(name, fromHost(data, shape, 'f32'));
    const bytes = await serializeSafetensors(tensors, { format: 'pt' });
    for (const t of tensors.values()) t.dispose();
    return bytes;
  }

  /** A 2-D tensor as rows. */
  mat(name: string): Mat {
    const entry = this.arrays.get(name);
    if (entry?.shape.length !== 2) throw new Error(`reference: no matrix ${name}`);
    const [rows, cols] = entry.shape as [number, number];
    return Array.from({ length: rows }, (_, r) => Array.from(entry.data.subarray(r * cols, (r + 1) * cols)));
  }

  vec(name: string): Vec {
    const entry = this.arrays.get(name);
    if (!entry) throw new Error(`reference: no tensor ${name}`);
    return Array.from(entry.data);
  }
}

const dot = (a: Vec, b: Vec) => a.reduce((s, v, i) => s + v * (b[i] as number), 0);
/** nn.Linear: x [T][in] with weight [out][in] (+ bias [out]). */
const linear = (x: Mat, w: Mat, b?: Vec): Mat =>
  x.map((row) => w.map((wr, o) => dot(row, wr) + (b?.[o] ?? 0)));
const add = (a: Mat, b: Mat): Mat => a.map((row, t) => row.map((v, i) => v + (b[t]?.[i] as number)));
const silu = (v: number) => v / (1 + Math.exp(-v));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const rms = (x: Mat, w: Vec, eps: number): Mat =>
  x.map((row) => {
    const scale = 1 / Math.sqrt(row.reduce((s, v) => s + v * v, 0) / row.length + eps);
    return row.map((v, i) => v * scale * (w[i] as number));
  });
const softmax = (v: Vec): Vec => {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};
/** Indices of the k largest values, largest first (ties to the lower index). */
const topk = (v: Vec, k: number): number[] =>
  v
    .map((x, i) => [x, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
const cols = (x: Mat, start: number, width: number): Mat => x.map((row) => row.slice(start, start + width));

/** transformers' rotate-half RoPE of one head vector at position p (LlamaRotaryEmbedding, apply_rotary_pos_emb). */
function rope(x: Vec, p: number, base: number): Vec {
  const d = x.length;
  const half = d / 2;
  return x.map((v, i) => {
    const j = i % half;
    const angle = p * base ** ((-2 * j) / d);
    const rotated = i < half ? -(x[i + half] as number) : (x[i - half] as number);
    return v * Math.cos(angle) + rotated * Math.sin(angle);
  });
}

/** DeepSeek's apply_rotary_pos_emb_interleave: de-interleave (view d/2 x 2, transpose), then rotate-half. */
function ropeInterleaved(x: Vec, p: number, base: number): Vec {
  const half = x.length / 2;
  const deinterleaved = x.map((_, i) =>
    i < half ? (x[2 * i] as number) : (x[2 * (i - half) + 1] as number),
  );
  return rope(deinterleaved, p, base);
}

/** Softmax attention of one head: q [S][d], k [T][d], v [T][dv], with an additive bias [S][T] (or -Inf masks). */
function attend(q: Mat, k: Mat, v: Mat, scale: number, bias: (s: number, t: number) => number): Mat {
  return q.map((qs, s) => {
    const p = softmax(k.map((kt, t) => scale * dot(qs, kt) + bias(s, t)));
    return (v[0] as Vec).map((_, j) => p.reduce((acc, w, t) => acc + w * (v[t]?.[j] as number), 0));
  });
}

const causal = (s: number, t: number) => (t <= s ? 0 : Number.NEGATIVE_INFINITY);

/** A SwiGLU MLP `down(act(gate x) * up x)` for names `{p}.{gate}`, `{p}.{up}`, `{p}.{down}`. */
function gatedMLP(c: Checkpoint, x: Mat, p: string, names = ['gate_proj', 'up_proj', 'down_proj']): Mat {
  const [g, u, d] = names as [string, string, string];
  const gate = linear(x, c.mat(`${p}.${g}.weight`));
  const up = linear(x, c.mat(`${p}.${u}.weight`));
  return linear(
    gate.map((row, t) => row.map((v, i) => silu(v) * (up[t]?.[i] as number))),
    c.mat(`${p}.${d}.weight`),
  );
}

/** Routed experts: each token's output is the weighted sum of its experts' outputs. */
function mixExperts(
  x: Mat,
  routes: { experts: number[]; weights: number[] }[],
  expert: (e: number, x: Mat) => Mat,
): Mat {
  return x.map((row, t) => {
    const out = row.map(() => 0);
    const route = routes[t] as { experts: number[]; weights: number[] };
    route.experts.forEach((e, k) => {
      const y = expert(e, [row])[0] as Vec;
      y.forEach((v, i) => {
        out[i] = (out[i] as number) + (route.weights[k] as number) * v;
      });
    });
    return out;
  });
}

function num(cfg: HuggingFaceConfig, key: string): number {
  return cfg[key] as number;
}

/** Which LLaMA-style MoE architecture the reference runs. */
export type LlamaMoEKind = 'mixtral' | 'qwen2_moe' | 'olmoe';

/** The tensor names and shapes a Mixtral / Qwen2-MoE / OLMoE checkpoint of `cfg` holds (from transformers). */
export function llamaMoEShapes(kind: LlamaMoEKind, cfg: HuggingFaceConfig): Record<string, number[]> {
  const d = num(cfg, 'hidden_size');
  const h = num(cfg, 'num_attention_heads');
  const kv = num(cfg, 'num_key_value_heads');
  const hd = d / h;
  const e = num(cfg, kind === 'mixtral' ? 'num_local_experts' : 'num_experts');
  const f = num(cfg, kind === 'qwen2_moe' ? 'moe_intermediate_size' : 'intermediate_size');
  const shapes: Record<string, number[]> = {
    'model.embed_tokens.weight': [num(cfg, 'vocab_size'), d],
    'model.norm.weight': [d],
    'lm_head.weight': [num(cfg, 'vocab_size'), d],
  };
  for (let l = 0; l < num(cfg, 'num_hidden_layers'); l++) {
    const p = `model.layers.${l}`;
    shapes[`${p}.input_layernorm.weight`] = [d];
    shapes[`${p}.post_attention_layernorm.weight`] = [d];
    shapes[`${p}.self_attn.q_proj.weight`] = [h * hd, d];
    shapes[`${p}.self_attn.k_proj.weight`] = [kv * hd, d];
    shapes[`${p}.self_attn.v_proj.weight`] = [kv * hd, d];
    shapes[`${p}.self_attn.o_proj.weight`] = [d, h * hd];
    if (kind === 'qwen2_moe') {
      shapes[`${p}.self_attn.q_proj.bias`] = [h * hd];
      shapes[`${p}.self_attn.k_proj.bias`] = [kv * hd];
      shapes[`${p}.self_attn.v_proj.bias`] = [kv * hd];
    }
    if (kind === 'olmoe') {
      shapes[`${p}.self_attn.q_norm.weight`] = [h * hd];
      shapes[`${p}.self_attn.k_norm.weight`] = [kv * hd];
    }
    if (kind === 'qwen2_moe' && (cfg.mlp_only_layers as number[]).includes(l)) {
      const fd = num(cfg, 'intermediate_size');
      shapes[`${p}.mlp.gate_proj.weight`] = [fd, d];
      shapes[`${p}.mlp.up_proj.weight`] = [fd, d];
      shapes[`${p}.mlp.down_proj.weight`] = [d, fd];
      continue;
    }
    const moe = kind === 'mixtral' ? `${p}.block_sparse_moe` : `${p}.mlp`;
    const [g, u, dn] = kind === 'mixtral' ? ['w1', 'w3', 'w2'] : ['gate_proj', 'up_proj', 'down_proj'];
    shapes[`${moe}.gate.weight`] = [e, d];
    for (let x = 0; x < e; x++) {
      shapes[`${moe}.experts.${x}.${g}.weight`] = [f, d];
      shapes[`${moe}.experts.${x}.${u}.weight`] = [f, d];
      shapes[`${moe}.experts.${x}.${dn}.weight`] = [d, f];
    }
    if (kind === 'qwen2_moe') {
      const fs = num(cfg, 'shared_expert_intermediate_size');
      shapes[`${p}.mlp.shared_expert.gate_proj.weight`] = [fs, d];
      shapes[`${p}.mlp.shared_expert.up_proj.weight`] = [fs, d];
      shapes[`${p}.mlp.shared_expert.down_proj.weight`] = [d, fs];
      shapes[`${p}.mlp.shared_expert_gate.weight`] = [1, d];
    }
  }
  return shapes;
}

/** MixtralForCausalLM / Qwen2MoeForCausalLM / OlmoeForCausalLM logits [S][V] for one sequence of ids. */
export function llamaMoEForward(
  kind: LlamaMoEKind,
  cfg: HuggingFaceConfig,
  c: Checkpoint,
  ids: number[],
): Mat {
  const d = num(cfg, 'hidden_size');
  const heads = num(cfg, 'num_attention_heads');
  const kvHeads = num(cfg, 'num_key_value_heads');
  const hd = d / heads;
  const eps = num(cfg, 'rms_norm_eps');
  const base = num(cfg, 'rope_theta');
  const k = num(cfg, 'num_experts_per_tok');
  const embed = c.mat('model.embed_tokens.weight');
  let h: Mat = ids.map((id) => [...(embed[id] as Vec)]);
  for (let l = 0; l < num(cfg, 'num_hidden_layers'); l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    const x = rms(h, c.vec(`${p}.input_layernorm.weight`), eps);
    const bias = (n: string) => (kind === 'qwen2_moe' ? c.vec(`${a}.${n}.bias`) : undefined);
    let q = linear(x, c.mat(`${a}.q_proj.weight`), bias('q_proj'));
    let kk = linear(x, c.mat(`${a}.k_proj.weight`), bias('k_proj'));
    const v = linear(x, c.mat(`${a}.v_proj.weight`), bias('v_proj'));
    if (kind === 'olmoe') {
      q = rms(q, c.vec(`${a}.q_norm.weight`), eps);
      kk = rms(kk, c.vec(`${a}.k_norm.weight`), eps);
    }
    const heads_ = Array.from({ length: heads }, (_, hIdx) => {
      const g = Math.floor(hIdx / (heads / kvHeads));
      const qh = cols(q, hIdx * hd, hd).map((row, s) => rope(row, s, base));
      const kh = cols(kk, g * hd, hd).map((row, s) => rope(row, s, base));
      return attend(qh, kh, cols(v, g * hd, hd), 1 / Math.sqrt(hd), causal);
    });
    const merged = x.map((_, s) => heads_.flatMap((o) => o[s] as Vec));
    h = add(h, linear(merged, c.mat(`${a}.o_proj.weight`)));
    const y = rms(h, c.vec(`${p}.post_attention_layernorm.weight`), eps);
    if (kind === 'qwen2_moe' && (cfg.mlp_only_layers as number[]).includes(l)) {
      h = add(h, gatedMLP(c, y, `${p}.mlp`));
      continue;
    }
    const moe = kind === 'mixtral' ? `${p}.block_sparse_moe` : `${p}.mlp`;
    const names = kind === 'mixtral' ? ['w1', 'w3', 'w2'] : ['gate_proj', 'up_proj', 'down_proj'];
    const routes = linear(y, c.mat(`${moe}.gate.weight`)).map((logits) => {
      const probs = softmax(logits);
      const experts = topk(probs, k);
      const weights = experts.map((e) => probs[e] as number);
      const renorm = kind === 'mixtral' || cfg.norm_topk_prob === true;
      const total = weights.reduce((s, w) => s + w, 0);
      return { experts, weights: renorm ? weights.map((w) => w / total) : weights };
    });
    let out = mixExperts(y, routes, (e, rows) => gatedMLP(c, rows, `${moe}.experts.${e}`, names));
    if (kind === 'qwen2_moe') {
      const shared = gatedMLP(c, y, `${p}.mlp.shared_expert`);
      const gate = linear(y, c.mat(`${p}.mlp.shared_expert_gate.weight`));
      out = add(
        out,
        shared.map((row, t) => row.map((val) => sigmoid(gate[t]?.[0] as number) * val)),
      );
    }
    h = add(h, out);
  }
  return linear(rms(h, c.vec('model.norm.weight'), eps), c.mat('lm_head.weight'));
}

/** The tensor names and shapes of a DeepSeek-V2/V3 checkpoint of `cfg`. */
export function deepseekShapes(cfg: HuggingFaceConfig): Record<string, number[]> {
  const d = num(cfg, 'hidden_size');
  const h = num(cfg, 'num_attention_heads');
  const [nope, r, vd, kvr] = ['qk_nope_head_dim', 'qk_rope_head_dim', 'v_head_dim', 'kv_lora_rank'].map(
    (key) => num(cfg, key),
  ) as [number, number, number, number];
  const qr = cfg.q_lora_rank as number | null;
  const e = num(cfg, 'n_routed_experts');
  const f = num(cfg, 'moe_intermediate_size');
  const fd = num(cfg, 'intermediate_size');
  const fs = f * num(cfg, 'n_shared_experts');
  const shapes: Record<string, number[]> = {
    'model.embed_tokens.weight': [num(cfg, 'vocab_size'), d],
    'model.norm.weight': [d],
    'lm_head.weight': [num(cfg, 'vocab_size'), d],
  };
  for (let l = 0; l < num(cfg, 'num_hidden_layers'); l++) {
    const p = `model.layers.${l}`;
    shapes[`${p}.input_layernorm.weight`] = [d];
    shapes[`${p}.post_attention_layernorm.weight`] = [d];
    if (qr === null) shapes[`${p}.self_attn.q_proj.weight`] = [h * (nope + r), d];
    else {
      shapes[`${p}.self_attn.q_a_proj.weight`] = [qr, d];
      shapes[`${p}.self_attn.q_a_layernorm.weight`] = [qr];
      shapes[`${p}.self_attn.q_b_proj.weight`] = [h * (nope + r), qr];
    }
    shapes[`${p}.self_attn.kv_a_proj_with_mqa.weight`] = [kvr + r, d];
    shapes[`${p}.self_attn.kv_a_layernorm.weight`] = [kvr];
    shapes[`${p}.self_attn.kv_b_proj.weight`] = [h * (nope + vd), kvr];
    shapes[`${p}.self_attn.o_proj.weight`] = [d, h * vd];
    if (l < num(cfg, 'first_k_dense_replace')) {
      shapes[`${p}.mlp.gate_proj.weight`] = [fd, d];
      shapes[`${p}.mlp.up_proj.weight`] = [fd, d];
      shapes[`${p}.mlp.down_proj.weight`] = [d, fd];
      continue;
    }
    shapes[`${p}.mlp.gate.weight`] = [e, d];
    if (cfg.model_type === 'deepseek_v3') shapes[`${p}.mlp.gate.e_score_correction_bias`] = [e];
    for (let x = 0; x < e; x++) {
      shapes[`${p}.mlp.experts.${x}.gate_proj.weight`] = [f, d];
      shapes[`${p}.mlp.experts.${x}.up_proj.weight`] = [f, d];
      shapes[`${p}.mlp.experts.${x}.down_proj.weight`] = [d, f];
    }
    shapes[`${p}.mlp.shared_experts.gate_proj.weight`] = [fs, d];
    shapes[`${p}.mlp.shared_experts.up_proj.weight`] = [fs, d];
    shapes[`${p}.mlp.shared_experts.down_proj.weight`] = [d, fs];
  }
  return shapes;
}

/** DeepSeek's gate: V2 softmax (greedy or group_limited_greedy) times the scale; V3 sigmoid noaux_tc. */
function deepseekRoute(
  cfg: HuggingFaceConfig,
  logits: Vec,
  bias: Vec | null,
): { experts: number[]; weights: number[] } {
  const e = logits.length;
  const k = num(cfg, 'num_experts_per_tok');
  const v3 = cfg.model_type === 'deepseek_v3';
  const scores = v3 ? logits.map(sigmoid) : softmax(logits);
  const choice = bias ? scores.map((s, i) => s + (bias[i] as number)) : scores;
  let masked = choice;
  if (cfg.topk_method !== 'greedy') {
    const groups = num(cfg, 'n_group');
    const per = e / groups;
    const groupScore = Array.from({ length: groups }, (_, g) => {
      const members = choice.slice(g * per, (g + 1) * per);
      return v3 ? topk(members, 2).reduce((s, i) => s + (members[i] as number), 0) : Math.max(...members);
    });
    const kept = new Set(topk(groupScore, num(cfg, 'topk_group')));
    masked = choice.map((s, i) => (kept.has(Math.floor(i / per)) ? s : 0));
  }
  const experts = topk(masked, k);
  let weights = experts.map((i) => scores[i] as number);
  if (v3 && cfg.norm_topk_prob === true) {
    const total = weights.reduce((s, w) => s + w, 0) + 1e-20;
    weights = weights.map((w) => w / total);
  }
  return { experts, weights: weights.map((w) => w * num(cfg, 'routed_scaling_factor')) };
}

/** DeepseekV2ForCausalLM / DeepseekV3ForCausalLM logits [S][V] for one sequence of ids. */
export function deepseekForward(cfg: HuggingFaceConfig, c: Checkpoint, ids: number[]): Mat {
  const heads = num(cfg, 'num_attention_heads');
  const [nope, r, vd, kvr] = ['qk_nope_head_dim', 'qk_rope_head_dim', 'v_head_dim', 'kv_lora_rank'].map(
    (key) => num(cfg, key),
  ) as [number, number, number, number];
  const eps = num(cfg, 'rms_norm_eps');
  const base = num(cfg, 'rope_theta');
  const embed = c.mat('model.embed_tokens.weight');
  let h: Mat = ids.map((id) => [...(embed[id] as Vec)]);
  for (let l = 0; l < num(cfg, 'num_hidden_layers'); l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    const x = rms(h, c.vec(`${p}.input_layernorm.weight`), eps);
    const q =
      cfg.q_lora_rank === null
        ? linear(x, c.mat(`${a}.q_proj.weight`))
        : linear(
            rms(linear(x, c.mat(`${a}.q_a_proj.weight`)), c.vec(`${a}.q_a_layernorm.weight`), 1e-6),
            c.mat(`${a}.q_b_proj.weight`),
          );
    const compressed = linear(x, c.mat(`${a}.kv_a_proj_with_mqa.weight`));
    const kPe = cols(compressed, kvr, r).map((row, s) => ropeInterleaved(row, s, base));
    const kv = linear(
      rms(cols(compressed, 0, kvr), c.vec(`${a}.kv_a_layernorm.weight`), 1e-6),
      c.mat(`${a}.kv_b_proj.weight`),
    );
    const outs = Array.from({ length: heads }, (_, hIdx) => {
      const qh = cols(q, hIdx * (nope + r), nope + r).map((row, s) => [
        ...row.slice(0, nope),
        ...ropeInterleaved(row.slice(nope), s, base),
      ]);
      const kh = cols(kv, hIdx * (nope + vd), nope).map((row, s) => [...row, ...(kPe[s] as Vec)]);
      const vh = cols(kv, hIdx * (nope + vd) + nope, vd);
      return attend(qh, kh, vh, 1 / Math.sqrt(nope + r), causal);
    });
    h = add(
      h,
      linear(
        x.map((_, s) => outs.flatMap((o) => o[s] as Vec)),
        c.mat(`${a}.o_proj.weight`),
      ),
    );
    const y = rms(h, c.vec(`${p}.post_attention_layernorm.weight`), eps);
    if (l < num(cfg, 'first_k_dense_replace')) {
      h = add(h, gatedMLP(c, y, `${p}.mlp`));
      continue;
    }
    const bias = cfg.model_type === 'deepseek_v3' ? c.vec(`${p}.mlp.gate.e_score_correction_bias`) : null;
    const routes = linear(y, c.mat(`${p}.mlp.gate.weight`)).map((logits) => deepseekRoute(cfg, logits, bias));
    const routed = mixExperts(y, routes, (e, rows) => gatedMLP(c, rows, `${p}.mlp.experts.${e}`));
    h = add(h, add(routed, gatedMLP(c, y, `${p}.mlp.shared_experts`)));
  }
  return linear(rms(h, c.vec('model.norm.weight'), eps), c.mat('lm_head.weight'));
}

/** The tensor names and shapes of a SwitchTransformersForConditionalGeneration checkpoint (tied head). */
export function switchShapes(cfg: HuggingFaceConfig): Record<string, number[]> {
  const d = num(cfg, 'd_model');
  const inner = num(cfg, 'num_heads') * num(cfg, 'd_kv');
  const f = num(cfg, 'd_ff');
  const shapes: Record<string, number[]> = { 'shared.weight': [num(cfg, 'vocab_size'), d] };
  for (const side of ['encoder', 'decoder'] as const) {
    const layers = num(cfg, side === 'encoder' ? 'num_layers' : 'num_decoder_layers');
    const step = num(cfg, `${side}_sparse_step`);
    shapes[`${side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`] = [
      num(cfg, 'relative_attention_num_buckets'),
      num(cfg, 'num_heads'),
    ];
    shapes[`${side}.final_layer_norm.weight`] = [d];
    for (let l = 0; l < layers; l++) {
      const p = `${side}.block.${l}.layer`;
      const attention = side === 'encoder' ? ['0.SelfAttention'] : ['0.SelfAttention', '1.EncDecAttention'];
      for (const at of attention) {
        for (const w of ['q', 'k', 'v']) shapes[`${p}.${at}.${w}.weight`] = [inner, d];
        shapes[`${p}.${at}.o.weight`] = [d, inner];
      }
      const ff = side === 'encoder' ? 1 : 2;
      for (let i = 0; i <= ff; i++) shapes[`${p}.${i}.layer_norm.weight`] = [d];
      if (l % step === 1 || step === 1) {
        shapes[`${p}.${ff}.mlp.router.classifier.weight`] = [num(cfg, 'num_experts'), d];
        for (let e = 0; e < num(cfg, 'num_experts'); e++) {
          shapes[`${p}.${ff}.mlp.experts.expert_${e}.wi.weight`] = [f, d];
          shapes[`${p}.${ff}.mlp.experts.expert_${e}.wo.weight`] = [d, f];
        }
      } else {
        shapes[`${p}.${ff}.mlp.wi.weight`] = [f, d];
        shapes[`${p}.${ff}.mlp.wo.weight`] = [d, f];
      }
    }
  }
  return shapes;
}

/** T5's _relative_position_bucket for relative position (key - query). */
function t5Bucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = 0;
  let n = numBuckets;
  let rel = relative;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (rel > 0) buckets += n;
    rel = Math.abs(rel);
  } else rel = -Math.min(rel, 0);
  const maxExact = Math.floor(n / 2);
  if (rel < maxExact) return buckets + rel;
  const large =
    maxExact + Math.trunc((Math.log(rel / maxExact) / Math.log(maxDistance / maxExact)) * (n - maxExact));
  return buckets + Math.min(large, n - 1);
}

/** SwitchTransformersForConditionalGeneration logits [S][V] (eval: no jitter, capacity never reached). */
export function switchForward(
  cfg: HuggingFaceConfig,
  c: Checkpoint,
  encoderIds: number[],
  ids: number[],
): Mat {
  const heads = num(cfg, 'num_heads');
  const dkv = num(cfg, 'd_kv');
  const eps = num(cfg, 'layer_norm_epsilon');
  const buckets = num(cfg, 'relative_attention_num_buckets');
  const maxDistance = num(cfg, 'relative_attention_max_distance');
  const shared = c.mat('shared.weight');
  const attention = (
    p: string,
    x: Mat,
    context: Mat,
    bias: (hIdx: number) => (s: number, t: number) => number,
  ) => {
    const q = linear(x, c.mat(`${p}.q.weight`));
    const k = linear(context, c.mat(`${p}.k.weight`));
    const v = linear(context, c.mat(`${p}.v.weight`));
    const outs = Array.from({ length: heads }, (_, hIdx) =>
      attend(cols(q, hIdx * dkv, dkv), cols(k, hIdx * dkv, dkv), cols(v, hIdx * dkv, dkv), 1, bias(hIdx)),
    );
    return linear(
      x.map((_, s) => outs.flatMap((o) => o[s] as Vec)),
      c.mat(`${p}.o.weight`),
    );
  };
  const ffn = (p: string, x: Mat, sparse: boolean): Mat => {
    const mlp = (q: string, rows: Mat) =>
      linear(
        linear(rows, c.mat(`${q}.wi.weight`)).map((row) => row.map((v) => Math.max(0, v))),
        c.mat(`${q}.wo.weight`),
      );
    if (!sparse) return mlp(`${p}.mlp`, x);
    const routes = linear(x, c.mat(`${p}.mlp.router.classifier.weight`)).map((logits) => {
      const probs = softmax(logits);
      const [e] = topk(probs, 1) as [number];
      return { experts: [e], weights: [probs[e] as number] };
    });
    return mixExperts(x, routes, (e, rows) => mlp(`${p}.mlp.experts.expert_${e}`, rows));
  };
  const stack = (side: 'encoder' | 'decoder', tokens: number[], context: Mat | null): Mat => {
    const table = c.mat(`${side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`);
    const positionBias = (hIdx: number) => (s: number, t: number) => {
      const b = table[t5Bucket(t - s, side === 'encoder', buckets, maxDistance)]?.[hIdx] as number;
      return side === 'decoder' ? b + causal(s, t) : b;
    };
    const step = num(cfg, `${side}_sparse_step`);
    let h: Mat = tokens.map((id) => [...(shared[id] as Vec)]);
    const layers = num(cfg, side === 'encoder' ? 'num_layers' : 'num_decoder_layers');
    for (let l = 0; l < layers; l++) {
      const p = `${side}.block.${l}.layer`;
      const x = rms(h, c.vec(`${p}.0.layer_norm.weight`), eps);
      h = add(h, attention(`${p}.0.SelfAttention`, x, x, positionBias));
      if (context) {
        const y = rms(h, c.vec(`${p}.1.layer_norm.weight`), eps);
        h = add(
          h,
          attention(`${p}.1.EncDecAttention`, y, context, () => () => 0),
        );
      }
      const ff = side === 'encoder' ? 1 : 2;
      h = add(
        h,
        ffn(`${p}.${ff}`, rms(h, c.vec(`${p}.${ff}.layer_norm.weight`), eps), l % step === 1 || step === 1),
      );
    }
    return rms(h, c.vec(`${side}.final_layer_norm.weight`), eps);
  };
  const encoded = stack('encoder', encoderIds, null);
  const decoded = stack('decoder', ids, encoded);
  const scale = num(cfg, 'd_model') ** -0.5;
  return linear(
    decoded.map((row) => row.map((v) => v * scale)),
    shared,
  );
}
