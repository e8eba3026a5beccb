// The four models the demo trains: tiny variants of Switch, GLaM and DeepSeekMoE built from their real preset
// configs, and a dense baseline with the same forward FLOPs per token as the costliest of them.
import {
  flopsPerToken,
  type ModelConfig,
  type PresetName,
  scalePreset,
  tinyPreset,
  validateConfig,
} from '@switchyard/presets';
import { SwitchyardError } from '@switchyard/tensor';
import type { MoELossConfig } from '@switchyard/train';

/** The demo's runs, in the order they train and print. */
export const DEMO_PRESETS = ['switch', 'glam', 'deepseekmoe', 'dense'] as const;
export type DemoPreset = (typeof DEMO_PRESETS)[number];

/** A model the demo trains: its config, the preset it comes from, its losses, and what was changed. */
export interface DemoModel {
  readonly preset: DemoPreset;
  /** The preset the config is the tiny variant of (the dense baseline: the one it is derived from). */
  readonly from: PresetName;
  readonly config: ModelConfig;
  /** The balance loss of the model's paper (none for the dense baseline) and the ST-MoE router z-loss. */
  readonly loss: MoELossConfig;
  /** What differs from the tiny preset, for the report. */
  readonly changes: string;
}

export interface DemoModelOptions {
  /** The tokenizer's vocabulary (the tiny presets have 512; the byte tokenizer 259). */
  vocabSize: number;
  /** Tokens per row, for the attention part of the FLOPs. */
  seqLen: number;
  /**
   * Coefficient α of every balance loss. The papers use 1e-2 (Switch, GLaM) and 1e-3..1e-2 (DeepSeekMoE) over
   * hundreds of thousands of steps; in a run of a hundred steps 1e-2 leaves the routing collapsed, so the demo
   * defaults to 0.1 (see the README).
   */
  balanceCoefficient: number;
}

const SOURCES: Record<Exclude<DemoPreset, 'dense'>, PresetName> = {
  switch: 'switch-base-8',
  glam: 'glam-0.1b-64e',
  deepseekmoe: 'deepseekmoe-16b',
};

/** DeepSeekMoE's positions, given to every model so that the runs differ in their feed-forward layers only. */
const ROTARY = { kind: 'rotary', base: 10000 } as const;

/** The balance loss each paper trains with. */
const BALANCE: Record<Exclude<DemoPreset, 'dense'>, 'switch' | 'gshard' | 'expert'> = {
  switch: 'switch',
  glam: 'gshard',
  deepseekmoe: 'expert',
};

/** The dense baseline's hidden width: a SwiGLU FFN per layer with forward FLOPs per token ≥ `target`. */
function denseWidth(base: ModelConfig, target: number, seqLen: number): number {
  const at = (dHidden: number) => flopsPerToken(scalePreset(base, { ffn: { dHidden } }), { seqLen }).forward;
  // FLOPs grow linearly in the width: solve from two points, round up to a multiple of 8.
  const f0 = at(8);
  const slope = (at(16) - f0) / 8;
  return Math.max(8, Math.ceil((8 + (target - f0) / slope) / 8) * 8);
}

/**
 * The demo's models, all with the tokenizer's vocabulary:
 * - `switch`: switch-base-8's tiny variant (top-1 Switch routing, capacity 1.25 in training and 2 in
 *   evaluation, every other layer MoE, router jitter) as a decoder-only stack, so that every model trains the
 *   same next-token objective on the same tokens (Switch itself is a T5 encoder-decoder; its encoder is dropped).
 * - `glam`: glam-0.1b-64e's tiny variant (top-2 GShard routing, every other layer MoE).
 * - Switch and GLaM get rotary positions in place of their T5 relative-position bias, so every model shares one
 *   backbone and the comparison is between feed-forward layers. The bias is what made them lose to the dense
 *   baseline: measured at the defaults (120 steps), Switch's held-out loss was 2.085 with the bias and 1.828
 *   with rotary positions, against 1.872 for the dense model (see the README).
 * - `deepseekmoe`: deepseekmoe-16b's tiny variant (fine-grained experts, 2 shared experts, dense first layer).
 * - `dense`: deepseekmoe-16b's tiny variant without MoE, its SwiGLU width chosen so that its forward FLOPs per
 *   token are at least those of the costliest sparse model: every sparse model uses at most the dense compute.
 */
export function demoModels(options: DemoModelOptions): Record<DemoPreset, DemoModel> {
  const { vocabSize, seqLen, balanceCoefficient } = options;
  if (!(balanceCoefficient >= 0) || !Number.isFinite(balanceCoefficient)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'demoModels',
      `balanceCoefficient must be a finite number >= 0, got ${balanceCoefficient}`,
    );
  }
  const tiny = (from: PresetName) => scalePreset(tinyPreset(from), { embedding: { vocabSize } });
  const sparse = (preset: Exclude<DemoPreset, 'dense'>, config: ModelConfig, changes: string): DemoModel => ({
    preset,
    from: SOURCES[preset],
    config,
    loss: { balance: [{ loss: BALANCE[preset], coefficient: balanceCoefficient }], zLoss: 1e-3 },
    changes,
  });
  const vocab = `vocabulary ${vocabSize} (the tokenizer's)`;
  const rotary =
    'rotary positions instead of the T5 relative-position bias (the backbone every model shares)';
  const switchConfig = validateConfig({ ...tiny(SOURCES.switch), encoder: null, position: ROTARY });
  const glamConfig = validateConfig({ ...tiny(SOURCES.glam), position: ROTARY });
  const models = {
    switch: sparse('switch', switchConfig, `${vocab}; decoder-only (the T5 encoder is dropped); ${rotary}`),
    glam: sparse('glam', glamConfig, `${vocab}; ${rotary}`),
    deepseekmoe: sparse('deepseekmoe', tiny(SOURCES.deepseekmoe), vocab),
  };
  const costliest = Math.max(
    ...Object.values(models).map((m) => flopsPerToken(m.config, { seqLen }).forward),
  );
  const base = validateConfig({
    ...tiny('deepseekmoe-16b'),
    name: 'dense-baseline-tiny',
    source: 'deepseekmoe-16b tiny variant without MoE layers; SwiGLU width matched to the sparse models',
    moe: null,
    decoder: { layers: 4, moeLayers: { layers: [] } },
  });
  const dHidden = denseWidth(base, costliest, seqLen);
  const dense: DemoModel = {
    preset: 'dense',
    from: 'deepseekmoe-16b',
    config: scalePreset(base, { ffn: { dHidden } }),
    loss: { balance: [], zLoss: 0 },
    changes: `${vocab}; no MoE layers; SwiGLU width ${dHidden} so its FLOPs per token match the costliest sparse model`,
  };
  return { ...models, dense };
}

/** What the web page's controls change in a sparse model. */
export interface RoutingControls {
  router: 'top-k-softmax' | 'top-k-sigmoid' | 'switch' | 'gshard';
  topK: number;
  /** Capacity factor in training and evaluation; 0 for dropless. */
  capacityFactor: number;
  balanceCoefficient: number;
  zLoss: number;
}

export const ROUTERS: readonly RoutingControls['router'][] = [
  'top-k-softmax',
  'top-k-sigmoid',
  'switch',
  'gshard',
];

/**
 * A sparse demo model with its router, K, capacity and loss coefficients replaced (the dense baseline only
 * takes nothing: it has no router). The config is validated, so an impossible combination (Switch routing
 * with K = 2, K above the expert count) throws INVALID_CONFIG naming the field.
 */
export function withRouting(model: DemoModel, controls: RoutingControls): DemoModel {
  const moe = model.config.moe;
  if (moe === null) return model;
  const [kind, scoring] =
    controls.router === 'top-k-sigmoid'
      ? (['top-k', 'sigmoid'] as const)
      : controls.router === 'top-k-softmax'
        ? (['top-k', 'softmax'] as const)
        : ([controls.router, 'softmax'] as const);
  const config = validateConfig({
    ...model.config,
    moe: {
      ...moe,
      topK: controls.topK,
      router: {
        ...moe.router,
        kind,
        scoring,
        normalize: scoring === 'sigmoid' ? true : moe.router.normalize,
      },
      capacity:
        controls.capacityFactor > 0
          ? { train: controls.capacityFactor, eval: controls.capacityFactor, min: moe.capacity?.min ?? 0 }
          : null,
    },
  });
  const balance = model.loss.balance?.[0];
  const name = typeof balance === 'object' ? balance.loss : (balance ?? 'switch');
  return {
    ...model,
    config,
    loss: { balance: [{ loss: name, coefficient: controls.balanceCoefficient }], zLoss: controls.zLoss },
    changes: `${model.changes}; ${controls.router} routing, K ${controls.topK}, ${
      controls.capacityFactor > 0 ? `capacity factor ${controls.capacityFactor}` : 'dropless'
    }`,
  };
}
