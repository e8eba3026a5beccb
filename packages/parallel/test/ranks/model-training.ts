// A rank program: one training step of a tiny preset model made expert-parallel in place, through the
// model's own forward and one loss.backward(), against the single-device model on every rank's batch
// (computed on each rank). The objective is the sum of the ranks' losses, each cross-entropy on its rows plus
// its tokens' balance and z-losses in every MoE layer; the reference computes the same sum with per-rank
// token masks.

import { crossEntropy, routerZLoss, sequenceBalanceLoss, switchLoadBalancingLoss } from '@switchyard/losses';
import {
  type CapacityConfig,
  disposeStats,
  type LanguageModelOutput,
  LocalDispatcher,
  MoELayer,
} from '@switchyard/moe';
import { buildModel, tinyPreset } from '@switchyard/presets';
import { disposeRouting } from '@switchyard/routers';
import {
  add,
  fromHost,
  Generator,
  gather,
  liveTensorCount,
  noGrad,
  slice,
  type Tensor,
  tidy,
} from '@switchyard/tensor';
import {
  allReduceGradients,
  applyExpertParallel,
  type Communicator,
  type ExpertParallelGroups,
  loadAwarePlacement,
  sumReplicaGradients,
} from '../../src/index.js';

export interface TrainingCase {
  preset: 'mixtral-8x7b' | 'deepseek-v3';
  capacity?: CapacityConfig;
  /** Load per expert: a load-aware placement with one spare slot per rank (replicated hot experts). */
  load?: number[];
  /** Expert-tensor parallelism over the ranks (each keeps half of every expert's hidden width) instead. */
  expertTensor?: boolean;
}

export interface TrainingResult {
  /** Parameters compared, and the largest error of each comparison relative to its tolerance (≤ 1 passes). */
  compared: number;
  gradError: { name: string; ratio: number };
  paramErrorAfterStep: { name: string; ratio: number };
  replicated: boolean;
  /** Assignments the reference dropped under capacity, over all MoE layers. */
  dropped: number;
  /** Σ of the ranks' losses before and after one SGD step, parallel and reference. */
  loss: [number, number];
  lossAfterStep: [number, number];
  /** Live tensors left by the parallel step after its outputs were disposed and gradients zeroed. */
  leaked: number;
}

const B = 2;
const S = 6;
const LR = 0.05;

/** Loss of rows [first, first + batch) of `out`: cross-entropy, balance and z-loss of their tokens. */
function rankLoss(
  preset: string,
  out: LanguageModelOutput,
  labels_BS: Tensor,
  first: number,
  batch: number,
): Tensor {
  return tidy(() => {
    const [rows, s, v] = out.logits.shape as [number, number, number];
    let loss = crossEntropy(
      slice(out.logits, [first, 0, 0], [batch, s, v]),
      slice(labels_BS, [first, 0], [batch, s]),
    );
    const mask = fromHost(
      Array.from({ length: rows * s }, (_, t) => (t >= first * s && t < (first + batch) * s ? 1 : 0)),
      [rows * s],
      'bool',
    );
    for (const { routing } of out.moe) {
      const balance =
        preset === 'deepseek-v3'
          ? sequenceBalanceLoss(routing, { sequenceLength: s, coefficient: 1e-2, mask })
          : switchLoadBalancingLoss(routing, { coefficient: 1e-2, mask });
      loss = add(add(loss, balance), routerZLoss(routing, { mask }));
    }
    return loss;
  });
}

function release(out: LanguageModelOutput): void {
  out.logits.dispose();
  for (const { routing, stats } of out.moe) {
    disposeRouting(routing);
    disposeStats(stats);
  }
}

/** The reference gradient (or value) of a sharded expert weight: its rows at `slots`, its part of F. */
function shard(full: Tensor, slots: readonly number[], hiddenAxis: 1 | 2, part: number, parts: number) {
  return tidy(() => {
    const rows = gather(full, fromHost(slots, [slots.length], 'i32'));
    const width = (full.shape[hiddenAxis] as number) / parts;
    const begin = hiddenAxis === 2 ? [0, 0, part * width] : [0, part * width, 0];
    const size = hiddenAxis === 2 ? [-1, -1, width] : [-1, width, -1];
    return slice(rows, begin, size).dataSync() as Float32Array;
  });
}

/** max |a − b| / (1e-6 + 1e-3 · max |b|): at most 1 when a matches b. */
function errorRatio(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return a.length === b.length ? diff / (1e-6 + 1e-3 * scale) : Number.POSITIVE_INFINITY;
}

async function trainingCase(comm: Communicator, c: TrainingCase): Promise<TrainingResult> {
  const config = tinyPreset(c.preset);
  const n = comm.size;
  const tokens = new Generator(7).randint([n * B, S + 1], 0, 512);
  const ids = slice(tokens, [0, 0], [n * B, S]);
  const labels = slice(tokens, [0, 1], [n * B, S]);

  // The single-device model on every rank's batch.
  const reference = buildModel(config, { generator: new Generator(0) }).train();
  for (const [, m] of reference.namedModules()) {
    if (m instanceof MoELayer && c.capacity) m.dispatcher = new LocalDispatcher(c.capacity);
  }
  const sumOfRanks = (out: LanguageModelOutput) =>
    tidy(() => {
      let total = rankLoss(c.preset, out, labels, 0, B);
      for (let r = 1; r < n; r++) total = add(total, rankLoss(c.preset, out, labels, r * B, B));
      return total;
    });
  const refOut = reference.forward({ ids });
  const refLoss = sumOfRanks(refOut);
  refLoss.backward();

  // The same model made expert-parallel; this rank runs its own rows.
  const model = buildModel(config, { generator: new Generator(0) }).train();
  const groups: ExpertParallelGroups = c.expertTensor
    ? { expert: await comm.split(comm.rank), expertTensor: comm }
    : { expert: comm };
  const layers = applyExpertParallel(model, groups, (_, layer) => ({
    ...(c.capacity ? { capacity: c.capacity } : {}),
    ...(c.load
      ? {
          placement: loadAwarePlacement(c.load, n, {
            slotsPerRank: Math.ceil(layer.experts.numExperts / n) + 1,
          }),
        }
      : {}),
  }));
  const myIds = slice(ids, [comm.rank * B, 0], [B, S]);
  const myLabels = slice(labels, [comm.rank * B, 0], [B, S]);
  const before = liveTensorCount();
  const out = model.forward({ ids: myIds });
  const loss = rankLoss(c.preset, out, myLabels, 0, B);
  loss.backward();
  await sumReplicaGradients(layers.values());
  const experts = new Set([...layers.values()].flatMap((l) => l.layer.experts.parameters()));
  await allReduceGradients(
    model.parameters().filter((p) => !experts.has(p)),
    comm,
    { average: false },
  );

  // Experts hold their own shard; everything else the sum over the ranks.
  const refParams = new Map(reference.namedParameters());
  const part = c.expertTensor ? comm.rank : 0;
  const parts = c.expertTensor ? n : 1;
  const compare = (read: (p: Tensor) => Float32Array) => {
    let worst = { name: '', ratio: 0 };
    let compared = 0;
    for (const [name, p] of model.namedParameters()) {
      const full = refParams.get(name) as Tensor;
      let expected = read(full);
      for (const [layerName, ep] of layers) {
        const m = new RegExp(`^${layerName.replaceAll('.', '\\.')}\\.experts\\.(w[123])$`).exec(name);
        if (!m) continue;
        const slots = ep.placement.slots[ep.groups.expert.rank] as number[];
        expected = noGrad(() =>
          tidy(() => {
            const source = fromHost(read(full), full.shape, 'f32');
            return shard(source, slots, m[1] === 'w2' ? 1 : 2, part, parts);
          }),
        );
      }
      const ratio = errorRatio(read(p), expected);
      compared++;
      if (!(ratio <= worst.ratio)) worst = { name, ratio };
    }
    return { worst, compared };
  };
  const grads = compare((p) => (p.grad ? (p.grad.dataSync() as Float32Array) : new Float32Array(p.size)));

  // One SGD step on both, then the objective again.
  const sgd = (params: readonly Tensor[]) =>
    noGrad(() => {
      for (const p of params) {
        if (!p.grad) continue;
        const next = tidy(() => p.sub((p.grad as Tensor).mul(LR)));
        p.assign(next);
        next.dispose();
      }
    });
  sgd(model.parameters());
  sgd(reference.parameters());
  const params = compare((p) => p.dataSync() as Float32Array);
  const refOut2 = noGrad(() => reference.forward({ ids }));
  const refLoss2 = noGrad(() => sumOfRanks(refOut2));
  const out2 = noGrad(() => model.forward({ ids: myIds }));
  const loss2 = noGrad(() => rankLoss(c.preset, out2, myLabels, 0, B));
  const sumOverRanks = async (t: Tensor) => {
    const flat = noGrad(() => t.reshape([1]));
    const total = await comm.allReduce(flat, 'sum');
    const value = total.itemSync();
    for (const x of [flat, total]) x.dispose();
    return value;
  };
  const result: TrainingResult = {
    compared: grads.compared,
    gradError: grads.worst,
    paramErrorAfterStep: params.worst,
    replicated: [...layers.values()].some((l) => l.placement.replicated),
    dropped: refOut.moe.reduce((n, { stats }) => {
      const routed = stats.tokensPerExpert.dataSync() as Int32Array;
      const kept = stats.keptPerExpert.dataSync() as Int32Array;
      return n + routed.reduce((m, v, e) => m + v - (kept[e] as number), 0);
    }, 0),
    loss: [await sumOverRanks(loss), refLoss.itemSync()],
    lossAfterStep: [await sumOverRanks(loss2), refLoss2.itemSync()],
    leaked: 0,
  };
  for (const o of [out, out2, refOut2]) release(o);
  for (const t of [loss, loss2, refLoss2]) t.dispose();
  model.zeroGrad();
  result.leaked = liveTensorCount() - before;
  for (const t of [refLoss, tokens, ids, labels, myIds, myLabels]) t.dispose();
  release(refOut);
  model.dispose();
  reference.dispose();
  return result;
}

export default async function modelTraining(comm: Communicator, cases: TrainingCase[]) {
  const results: TrainingResult[] = [];
  for (const c of cases) results.push(await trainingCase(comm, c));
  return results;
}
