// The shape of report.json: what the CLI writes, the HTML report plots, and the tests check.
import type { ModelConfig } from '@switchyard/presets';
import type { DemoPreset } from './demo-models.js';

/** One MoE layer's held-out assignments per domain and expert: `counts[domain][expert]`. */
export interface DomainUsage {
  layer: number;
  counts: number[][];
}

/** A held-out row: each token's text, its domain id, and its top expert per MoE layer (`topExpert[layer][t]`). */
export interface TokenExperts {
  text: string[];
  domains: number[];
  topExpert: number[][];
}

/** The held-out dropped fraction and loss at one capacity factor. */
export interface CapacityPoint {
  capacityFactor: number;
  droppedFraction: number;
  evalLoss: number;
}

/** One model's run. Loads are assignments per expert before capacity (what the router asked for). */
export interface RunReport {
  preset: DemoPreset;
  /** The preset the model is the tiny variant of. */
  from: string;
  /** What differs from that tiny preset. */
  changes: string;
  config: ModelConfig;
  totalParams: number;
  activeParams: number;
  /** Forward FLOPs per token (`flopsPerToken` of @switchyard/presets at the training sequence length). */
  flopsPerToken: number;
  /** Training cross-entropy (nats) of every step. */
  losses: number[];
  /** Mean training cross-entropy over the last tenth of the steps. */
  finalLoss: number;
  /** Held-out cross-entropy after training, in evaluation mode. */
  evalLoss: number;
  /** Training tokens per second (every token of every batch, over the time spent in steps). */
  tokensPerSecond: number;
  /** Held-out max/mean expert load, averaged over the MoE layers; null for the dense model. */
  maxMeanLoad: number | null;
  /** Fraction of routed assignments dropped by capacity in training, over the last tenth of the steps. */
  droppedFraction: number;
  /** Held-out mean router entropy (nats), averaged over the MoE layers; null for the dense model. */
  routerEntropy: number | null;
  /** The MoE layers, in the order of the per-layer arrays below. */
  layers: { layer: number; stack: 'encoder' | 'decoder'; numExperts: number }[];
  /** Per training step, per MoE layer, per expert: assignments routed (`expertLoad[step][layer][expert]`). */
  expertLoad: number[][][];
  /** Per MoE layer, per expert: held-out assignments after training. */
  heldOutLoad: number[][];
  domainUsage: DomainUsage[];
  tokens: TokenExperts[];
  /** Held-out dropped fraction across capacity factors (empty for the dense model). */
  capacity: CapacityPoint[];
}

export interface DemoReport {
  /** `cpu` or `webgpu`, and what it runs on. */
  backend: 'cpu' | 'webgpu';
  backendDescription: string;
  /** The settings every run shared. */
  settings: {
    steps: number;
    batchSize: number;
    seqLen: number;
    lr: number;
    seed: number;
    balanceCoefficient: number;
  };
  /** Domain names in id order. */
  domains: string[];
  runs: RunReport[];
  /** When the report was written (ISO 8601). */
  createdAt: string;
}
