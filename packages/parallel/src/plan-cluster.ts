// Shape letters: D model width, F expert hidden width, E experts, K experts per token, S sequence length,
// L layers. Units: bytes, FLOPs, seconds.
import { type MoEPlacement, moeLayerMask } from '@switchyard/moe';
import { SwitchyardError } from '@switchyard/tensor';

/**
 * The parts of a model config the planner reads: a structural subset of `ModelConfig` from
 * @switchyard/presets, so a preset config can be passed as it is.
 */
export interface PlanModelConfig {
  name: string;
  dModel: number;
  embedding: { vocabSize: number; tied: boolean };
  attention:
    | { kind: 'mha'; heads: number; headDim: number }
    | { kind: 'mla'; heads: number; qkNopeHeadDim: number; qkRopeHeadDim: number; vHeadDim: number };
  ffn: { dHidden: number; gated: boolean };
  moe: {
    numExperts: number;
    topK: number;
    expert: { dHidden: number; gated: boolean };
    shared: { count: number; dHidden: number } | null;
  } | null;
  encoder: { layers: number; moeLayers: MoEPlacement } | null;
  decoder: { layers: number; moeLayers: MoEPlacement };
}

/** Parameter counts the planner reads: a structural subset of `countParameters(config)` from @switchyard/presets. */
export interface PlanParameterCount {
  total: number;
  activeExcludingEmbedding: number;
  breakdown: { embedding: number; outputHead: number; experts: number };
}

/** A model to plan: its config and its parameter count (`{ config, parameters: countParameters(config) }`). */
export interface PlanModel {
  config: PlanModelConfig;
  parameters: PlanParameterCount;
}

/** The machines: identical accelerators grouped in nodes. Bandwidths are per device, one direction. */
export interface ClusterSpec {
  name: string;
  devices: number;
  devicesPerNode: number;
  /** Memory of one device, bytes. */
  memoryBytes: number;
  /** Peak dense FLOP/s of one device at the training precision. */
  peakFlops: number;
  /** Intra-node link bandwidth per device (NVLink), bytes/s. */
  intraNodeBandwidth: number;
  /** Inter-node bandwidth per device (InfiniBand), bytes/s. */
  interNodeBandwidth: number;
}

/** How the model is laid over the cluster, and the numeric formats. */
export interface ParallelStrategy {
  /** EP: ranks the routed experts of a layer are spread over. */
  expertParallel: number;
  /** PP: pipeline stages (layers split evenly). Default 1. */
  pipelineParallel?: number;
  /** TP: tensor parallelism of attention and dense layers (with sequence parallelism). Default 1. */
  tensorParallel?: number;
  /** ETP: ranks one expert's hidden width is split over. Default 1. */
  expertTensorParallel?: number;
  /** ZeRO stage of the data-parallel sharding: 1 shards optimizer states, 2 also gradients, 3 also weights. Default 1. */
  zero?: 0 | 1 | 2 | 3;
  /** Sequences per step, over the whole cluster. */
  globalBatch: number;
  /** Sequences per micro-batch on one pipeline. */
  microBatch: number;
  seqLen: number;
  /** `true` (default): weights, gradients, optimizer states and activations; `false`: weights only (inference). */
  training?: boolean;
  /** Bytes per weight (2: BF16), per gradient (4: FP32 accumulation), per parameter of optimizer state (12: FP32 master + Adam moments). */
  bytes?: {
    weight?: number;
    gradient?: number;
    optimizer?: number;
    activation?: number;
    dispatch?: number;
    combine?: number;
  };
  /** `'full'`: keep only each layer's input and recompute the rest in backward (one more forward). Default `'none'`. */
  recompute?: 'none' | 'full';
  /** Node-limited routing: each token's experts span at most this many nodes (DeepSeek-V3: 4). */
  nodeLimit?: number;
  /** Fraction of peak FLOP/s the matmuls reach (MFU). Default 0.4. */
  efficiency?: number;
  /** All-to-all hidden behind computation (DeepSeek-V3's DualPipe): the step takes the longer of the two. Default false. */
  overlapAllToAll?: boolean;
}

/** What `planCluster` estimates. Memory and communication are per device, per training step. */
export interface ClusterPlan {
  model: string;
  cluster: string;
  /** Replicas of the dense parts (N / (PP · TP)) and of each expert shard (N / (PP · EP · ETP)). */
  dataParallel: number;
  expertDataParallel: number;
  /** Parameters held by the most loaded device (a pipeline stage with the embedding or the head). */
  parametersPerDevice: number;
  memory: { weights: number; gradients: number; optimizer: number; activations: number; total: number };
  fitsInMemory: boolean;
  /** Training (or forward, for inference) FLOPs of one device in one step. */
  flopsPerDevice: number;
  /** All-to-all bytes one device sends per step (dispatch and combine, forward and backward), within and across nodes. */
  allToAllBytes: { intraNode: number; interNode: number };
  /** Gradient-synchronisation bytes one device sends per step (ring reduce-scatter + all-gather). */
  gradientSyncBytes: number;
  time: { compute: number; bubble: number; allToAll: number; gradientSync: number; step: number };
  tokensPerStep: number;
  tokensPerSecond: number;
  /** Device-hours to train on 10¹² tokens at this rate. */
  deviceHoursPerTrillionTokens: number;
}

function positive(op: string, name: string, v: number | undefined, integer = true): number {
  if (v === undefined || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new SwitchyardError(
      'INVALID_CONFIG',
      op,
      `${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`,
    );
  }
  return v;
}

function divides(op: string, what: string, a: number, b: number): void {
  if (b % a !== 0) throw new SwitchyardError('INVALID_CONFIG', op, `${what}: ${a} does not divide ${b}`);
}

/**
 * Estimates what one training step of `model` costs on `cluster` under `strategy`, per device: memory,
 * FLOPs, all-to-all and gradient traffic, and the step time they imply. A model, not a measurement: use it to
 * compare layouts and to check a layout against a published run.
 *
 * Layout: the N devices form PP pipeline stages (⌈L / PP⌉ layers on the most loaded one, which also holds
 * the embedding or the output head); within a stage, attention and dense layers are TP-way tensor
 * parallel and DP = N / (PP·TP)-way data parallel; each MoE layer's E experts are EP-way expert parallel (and
 * ETP-way split in hidden width), replicated EDP = N / (PP·EP·ETP) times.
 *
 * Memory per device (bytes): weights = P_dense·w / (TP · [DP with ZeRO-3]) + P_expert·w / (EP·ETP · [EDP with ZeRO-3]),
 * gradients likewise with g (sharded from ZeRO-2), optimizer states with o (sharded from ZeRO-1); activations
 * per token and layer (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
 * Models", 16-bit, sequence parallel, flash attention so no S² term): attention 11·D + norms 4·D, a dense FFN
 * 2·D + 2·F·u (u = 4 gated, 2 plain), an MoE FFN K·(2·D + 2·F·u) + shared + 2·K·D dispatch buffers; a
 * 1F1B pipeline keeps PP micro-batches in flight on its first stage, i.e. L·b·S tokens of activations / TP;
 * `recompute: 'full'` keeps 2·D per token and layer.
 *
 * FLOPs per token (Kaplan et al. 2020): forward = 2·N_active + Σ_layers 2·S·(H·Dqk + H·Dv); training =
 * 3 × forward (4 × with full recomputation). All-to-all per device and step: each of its tokens, in each MoE
 * layer of its stage, sends K rows of D to the experts' ranks and gets them back, in forward and backward:
 * 2 · K · D · (dispatch + combine bytes) · (EP − 1) / EP; across nodes that share is (EP − G) / (EP − 1) with
 * G the group's devices on one node, or, with node-limited routing, at most M − 1 remote nodes per token.
 *
 * Time: compute = FLOPs / (peak · efficiency), plus the pipeline bubble (PP − 1) / m of it for m micro-batches
 * per pipeline; all-to-all = intra / NVLink + inter / IB, added to the step or, with `overlapAllToAll`,
 * overlapped (the step takes the larger); gradient synchronisation (ring, 2·(DP − 1)/DP of the gradients
 * over the inter-node link) is assumed hidden behind backward, as in DDP and ZeRO, and reported only.
 */
export function planCluster(model: PlanModel, cluster: ClusterSpec, strategy: ParallelStrategy): ClusterPlan {
  const op = 'planCluster';
  const { config, parameters } = model;
  const n = positive(op, 'cluster.devices', cluster.devices);
  const perNode = positive(op, 'cluster.devicesPerNode', cluster.devicesPerNode);
  positive(op, 'cluster.memoryBytes', cluster.memoryBytes, false);
  positive(op, 'cluster.peakFlops', cluster.peakFlops, false);
  positive(op, 'cluster.intraNodeBandwidth', cluster.intraNodeBandwidth, false);
  positive(op, 'cluster.interNodeBandwidth', cluster.interNodeBandwidth, false);
  const ep = positive(op, 'strategy.expertParallel', strategy.expertParallel);
  const pp = positive(op, 'strategy.pipelineParallel', strategy.pipelineParallel ?? 1);
  const tp = positive(op, 'strategy.tensorParallel', strategy.tensorParallel ?? 1);
  const etp = positive(op, 'strategy.expertTensorParallel', strategy.expertTensorParallel ?? 1);
  const seqLen = positive(op, 'strategy.seqLen', strategy.seqLen);
  const micro = positive(op, 'strategy.microBatch', strategy.microBatch);
  const global = positive(op, 'strategy.globalBatch', strategy.globalBatch);
  const efficiency = positive(op, 'strategy.efficiency', strategy.efficiency ?? 0.4, false);
  const training = strategy.training ?? true;
  const zero = strategy.zero ?? 1;
  const moe = config.moe;
  divides(op, 'PP · TP must divide the devices', pp * tp, n);
  divides(op, 'PP · EP · ETP must divide the devices', pp * ep * etp, n);
  if (moe) divides(op, 'EP must divide the experts', ep, moe.numExperts);
  if (moe) divides(op, 'ETP must divide the expert hidden width', etp, moe.expert.dHidden);
  const dp = n / (pp * tp);
  const edp = n / (pp * ep * etp);
  divides(op, 'micro-batch · DP must divide the global batch', micro * dp, global);
  const b = {
    weight: strategy.bytes?.weight ?? 2,
    gradient: strategy.bytes?.gradient ?? 4,
    optimizer: strategy.bytes?.optimizer ?? 12,
    activation: strategy.bytes?.activation ?? 2,
    dispatch: strategy.bytes?.dispatch ?? 2,
    combine: strategy.bytes?.combine ?? 2,
  };

  const stacks = [config.encoder, config.decoder].filter((s) => s !== null);
  const masks = stacks.map((s) => moeLayerMask(s.layers, s.moeLayers));
  const layers = masks.reduce((a, m) => a + m.length, 0);
  const moeLayers = moe ? masks.reduce((a, m) => a + m.filter(Boolean).length, 0) : 0;
  if (pp > layers)
    throw new SwitchyardError('INVALID_CONFIG', op, `${pp} pipeline stages exceed the ${layers} layers`);
  const d = config.dModel;
  // The most loaded stage: ⌈L / PP⌉ layers (⌈L_MoE / PP⌉ of them MoE) and the larger end table.
  const stageLayers = Math.ceil(layers / pp);
  const stageMoE = Math.ceil(moeLayers / pp);

  // Parameters of the most loaded device: its stage's share of the body plus the larger end table.
  const expertParams = parameters.breakdown.experts;
  const ends = Math.max(parameters.breakdown.embedding, parameters.breakdown.outputHead);
  const tables = parameters.breakdown.embedding + parameters.breakdown.outputHead;
  const body = parameters.total - expertParams - tables;
  const dense = ((body * stageLayers) / layers + (pp === 1 ? tables : ends)) / tp;
  const expert = moeLayers === 0 ? 0 : (expertParams * stageMoE) / moeLayers / (ep * etp);
  const shard = (count: number, replicas: number, sharded: boolean) => (sharded ? count / replicas : count);
  const weights = shard(dense, dp, zero >= 3) * b.weight + shard(expert, edp, zero >= 3) * b.weight;
  const gradients = training
    ? shard(dense, dp, zero >= 2) * b.gradient + shard(expert, edp, zero >= 2) * b.gradient
    : 0;
  const optimizer = training
    ? shard(dense, dp, zero >= 1) * b.optimizer + shard(expert, edp, zero >= 1) * b.optimizer
    : 0;

  // Activations per token and layer, bytes (16-bit in Korthikanti's accounting; scaled by the activation width).
  const u = (gated: boolean) => (gated ? 4 : 2);
  const scale = b.activation / 2;
  const attention = 15 * d;
  const denseFFN = 2 * d + 2 * config.ffn.dHidden * u(config.ffn.gated);
  const moeFFN = moe
    ? moe.topK * (2 * d + 2 * moe.expert.dHidden * u(moe.expert.gated)) +
      (moe.shared ? moe.shared.count * (2 * d + 2 * moe.shared.dHidden * u(moe.expert.gated)) : 0) +
      2 * moe.topK * d
    : 0;
  const perTokenAllLayers =
    strategy.recompute === 'full'
      ? 2 * d * layers
      : attention * layers + denseFFN * (layers - moeLayers) + moeFFN * moeLayers;
  const microTokens = micro * seqLen;
  // 1F1B: the first stage holds PP micro-batches of its L / PP layers, i.e. one micro-batch of all layers.
  const activations = training ? (perTokenAllLayers * scale * microTokens) / tp : 0;

  // FLOPs (Kaplan et al. 2020).
  const tiedHead = config.embedding.tied ? config.embedding.vocabSize * d : 0;
  const a = config.attention;
  const qk = a.kind === 'mha' ? a.heads * a.headDim : a.heads * (a.qkNopeHeadDim + a.qkRopeHeadDim);
  const v = a.kind === 'mha' ? a.heads * a.headDim : a.heads * a.vHeadDim;
  const forwardPerToken =
    2 * (parameters.activeExcludingEmbedding + tiedHead) + layers * 2 * seqLen * (qk + v);
  const passes = training ? (strategy.recompute === 'full' ? 4 : 3) : 1;
  const tokensPerStep = global * seqLen;
  const flopsPerDevice = (forwardPerToken * passes * tokensPerStep) / n;

  // All-to-all: the tokens one device routes per step, in each MoE layer of its stage.
  const tokensPerDevice = tokensPerStep / dp / tp;
  const directions = training ? 2 : 1;
  let intra = 0;
  let inter = 0;
  if (moe && ep > 1) {
    const rows = tokensPerDevice * stageMoE * directions;
    const bytesPerRow = d * (b.dispatch + b.combine);
    const remote = (moe.topK * (ep - 1)) / ep;
    const groupNodes = Math.max(1, ep / perNode);
    const local = Math.min(ep, perNode);
    let remoteNodes = (moe.topK * (ep - local)) / ep;
    if (strategy.nodeLimit !== undefined && groupNodes > 1) {
      // Node-limited routing sends a token once to each of its at most M nodes (then NVLink inside).
      remoteNodes = Math.min(remoteNodes, (strategy.nodeLimit * (groupNodes - 1)) / groupNodes);
    }
    inter = rows * bytesPerRow * remoteNodes;
    intra = rows * bytesPerRow * Math.max(0, remote - remoteNodes);
  }
  const gradientSyncBytes = training
    ? 2 * ((dp - 1) / dp) * dense * b.gradient + 2 * ((edp - 1) / edp) * expert * b.gradient
    : 0;

  const microBatches = global / (micro * dp);
  const compute = flopsPerDevice / (cluster.peakFlops * efficiency);
  const bubble = (compute * (pp - 1)) / microBatches;
  const allToAll = intra / cluster.intraNodeBandwidth + inter / cluster.interNodeBandwidth;
  const gradientSync = gradientSyncBytes / cluster.interNodeBandwidth;
  const step = (strategy.overlapAllToAll ? Math.max(compute, allToAll) : compute + allToAll) + bubble;
  const total = weights + gradients + optimizer + activations;
  const tokensPerSecond = tokensPerStep / step;
  return {
    model: config.name,
    cluster: cluster.name,
    dataParallel: dp,
    expertDataParallel: edp,
    parametersPerDevice: dense + expert,
    memory: { weights, gradients, optimizer, activations, total },
    fitsInMemory: total <= cluster.memoryBytes,
    flopsPerDevice,
    allToAllBytes: { intraNode: intra, interNode: inter },
    gradientSyncBytes,
    time: { compute, bubble, allToAll, gradientSync, step },
    tokensPerStep,
    tokensPerSecond,
    deviceHoursPerTrillionTokens: (1e12 / tokensPerSecond) * (n / 3600),
  };
}
