// One worker rank of the README's whole-model example (examples/train-model.ts): a tiny Mixtral made
// expert-parallel in place, trained through its own forward and one loss.backward() per step.
import { crossEntropy, switchLoadBalancingLoss } from '@switchyard/losses';
import { buildModel, tinyPreset } from '@switchyard/presets';
import { add, fromHost, Generator, noGrad, type Tensor, tidy } from '@switchyard/tensor';
import {
  allReduceGradients,
  applyExpertParallel,
  type Communicator,
  sumReplicaGradients,
} from '../src/index.js';

const BATCH = 4;
const SEQUENCE = 16;
const LEARNING_RATE = 0.2;

/** This rank's batch: runs of consecutive token ids (mod 512) from random starts; labels are the next ids. */
function batch(rank: number): { ids: Tensor; labels: Tensor } {
  const starts = new Generator(1 + rank).randint([BATCH], 0, 512).dataSync();
  const ids = new Int32Array(BATCH * SEQUENCE);
  starts.forEach((start, b) => {
    for (let s = 0; s < SEQUENCE; s++) ids[b * SEQUENCE + s] = (start + s) % 512;
  });
  return {
    ids: fromHost(ids, [BATCH, SEQUENCE], 'i32'),
    labels: fromHost(
      ids.map((id) => (id + 1) % 512),
      [BATCH, SEQUENCE],
      'i32',
    ),
  };
}

export default async function trainModelRank(comm: Communicator, steps: number) {
  const lines: string[] = [];
  const model = buildModel(tinyPreset('mixtral-8x7b'), { generator: new Generator(0) }); // same on every rank
  const layers = applyExpertParallel(model, { expert: comm }); // keeps this rank's experts of every MoE layer
  const experts = new Set([...layers.values()].flatMap((l) => l.layer.experts.parameters()));
  const replicated = model.parameters().filter((p) => !experts.has(p));
  if (comm.rank === 0) {
    const slots = [...layers.values()].map((l) => l.placement.slots)[0];
    lines.push(`${layers.size} MoE layers, experts per rank in each: ${JSON.stringify(slots)}`);
  }
  const { ids, labels } = batch(comm.rank);
  const history: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = tidy(() => {
      const out = model.forward({ ids }); // all-to-alls inside every MoE layer
      const total = out.moe.reduce(
        (l, { routing }) => add(l, switchLoadBalancingLoss(routing)),
        crossEntropy(out.logits, labels),
      );
      total.backward(); // the adjoint all-to-alls run here, on both ranks
      return total;
    });
    // The objective is the sum of the ranks' losses: experts already hold every rank's share of it, replicated
    // experts (none with this placement) sum their replicas, every other parameter sums over the ranks.
    await sumReplicaGradients(layers.values());
    await allReduceGradients(replicated, comm, { average: false });
    noGrad(() => {
      for (const p of model.parameters()) {
        const next = tidy(() => p.sub((p.grad as Tensor).mul(LEARNING_RATE)));
        p.assign(next);
        next.dispose();
      }
    });
    model.zeroGrad();
    const mean = await comm.allReduce(loss, 'mean');
    history.push(mean.itemSync());
    if (comm.rank === 0 && (step % 5 === 0 || step === steps - 1)) {
      lines.push(`step ${step} loss (mean over ranks) ${mean.itemSync().toFixed(4)}`);
    }
    mean.dispose();
    loss.dispose();
  }
  for (const t of [ids, labels]) t.dispose();
  model.dispose();
  return { lines, losses: history };
}
