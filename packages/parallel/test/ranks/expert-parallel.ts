// A rank program for the worker tests: the expert-parallel steps of `cases`, results as plain arrays.
import type { CapacityConfig } from '@switchyard/moe';
import type { Communicator } from '../../src/index.js';
import { type LayerSpec, parallelStep, rankData } from '../helpers.js';

export interface WorkerCase {
  spec: LayerSpec;
  tokens: number[];
  capacity?: CapacityConfig;
}

export default async function expertParallel(comm: Communicator, cases: WorkerCase[]) {
  const out = [];
  for (const c of cases) {
    const data = rankData(c.spec.seed + 100, c.tokens, c.spec.dModel);
    const r = await parallelStep(
      c.spec,
      data,
      { groups: { expert: comm }, ...(c.capacity ? { capacity: c.capacity } : {}) },
      comm,
    );
    out.push({
      y: Array.from(r.y),
      xGrad: Array.from(r.xGrad),
      grads: Object.fromEntries([...r.grads].map(([k, v]) => [k, Array.from(v)])),
      slots: [...(r.ep.placement.slots[comm.rank] as number[])],
    });
    r.ep.layer.dispose();
  }
  return out;
}
