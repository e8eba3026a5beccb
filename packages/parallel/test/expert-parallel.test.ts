// Expert parallelism over virtual CPU ranks equals the single-device layer on the ranks' tokens concatenated:
// outputs, input gradients, expert gradients (each rank's shard) and router/shared gradients (summed).
import type { CapacityConfig } from '@switchyard/moe';
import { liveTensorCount } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import {
  contiguousPlacement,
  createVirtualCluster,
  type ExpertPlacement,
  launchWorkers,
  loadAwarePlacement,
  roundRobinPlacement,
  runVirtualRanks,
} from '../src/index.js';
import { type LayerSpec, parallelStep, rankData, referenceStep, type StepResult } from './helpers.js';
import type { WorkerCase } from './ranks/expert-parallel.js';

const TOL = { rtol: 1e-4, atol: 1e-5 };

function rowsOf(data: Float32Array, tokens: readonly number[], rank: number, d: number): Float32Array {
  const start = tokens.slice(0, rank).reduce((a, b) => a + b, 0) * d;
  return data.subarray(start, start + (tokens[rank] as number) * d);
}

/** Rows of a stacked [E, ...] gradient at the given experts. */
function expertRows(grad: Float32Array, experts: number, slots: readonly number[]): Float32Array {
  const row = grad.length / experts;
  const out = new Float32Array(slots.length * row);
  slots.forEach((e, i) => {
    out.set(grad.subarray(e * row, (e + 1) * row), i * row);
  });
  return out;
}

function expectRankEqual(
  spec: LayerSpec,
  tokens: readonly number[],
  reference: StepResult,
  rank: number,
  r: {
    y: ArrayLike<number>;
    xGrad: ArrayLike<number>;
    grads: Map<string, ArrayLike<number>>;
    slots: readonly number[];
  },
): void {
  const d = spec.dModel;
  expect(r.y).toAllClose(rowsOf(reference.y, tokens, rank, d), TOL);
  if (r.xGrad) expect(r.xGrad).toAllClose(rowsOf(reference.xGrad, tokens, rank, d), TOL);
  for (const [name, g] of r.grads) {
    const full = reference.grads.get(name) as Float32Array;
    const expected = name.startsWith('experts.') ? expertRows(full, spec.numExperts, r.slots) : full;
    expect(g, name).toAllClose(expected, TOL);
  }
}

async function expectEqual(
  spec: LayerSpec,
  tokens: readonly number[],
  options: {
    capacity?: CapacityConfig;
    placement?: ExpertPlacement;
    training?: boolean;
    inputGrad?: boolean;
  } = {},
): Promise<void> {
  const data = rankData(spec.seed + 100, tokens, spec.dModel);
  const reference = referenceStep(spec, data, options.capacity, options.training ?? true);
  const before = liveTensorCount();
  const comms = createVirtualCluster({ size: tokens.length });
  const results = await runVirtualRanks(comms, (comm) =>
    parallelStep(spec, data, { groups: { expert: comm }, ...options }, comm),
  );
  results.forEach((r, rank) => {
    expectRankEqual(spec, tokens, reference, rank, {
      ...r,
      slots: r.ep.placement.slots[rank] as readonly number[],
    });
    r.ep.layer.dispose();
  });
  expect(liveTensorCount()).toBe(before);
}

const SPEC: LayerSpec = { dModel: 6, numExperts: 8, topK: 2, dHidden: 5, seed: 1 };

describe('expert parallel == single device (virtual CPU ranks)', () => {
  it('dropless over 2 ranks', async () => {
    await expectEqual(SPEC, [5, 7]);
  });

  it('dropless over 4 ranks with shared experts and a rank without tokens', async () => {
    await expectEqual({ ...SPEC, shared: true, seed: 2 }, [6, 0, 9, 3]);
  });

  it('parameter gradients when the input needs none', async () => {
    await expectEqual({ ...SPEC, seed: 9 }, [6, 5], { inputGrad: false, capacity: { capacityFactor: 1 } });
  });

  it('capacity by position over 2 ranks (drops happen)', async () => {
    await expectEqual({ ...SPEC, seed: 3 }, [9, 7], { capacity: { capacityFactor: 0.75 } });
  });

  it('capacity by probability over 4 ranks', async () => {
    await expectEqual({ ...SPEC, seed: 4 }, [4, 6, 5, 7], {
      capacity: { capacityFactor: 0.8, dropPolicy: 'probs' },
    });
  });

  it('padded capacity and the evaluation factor over 4 ranks', async () => {
    await expectEqual({ ...SPEC, seed: 5, gated: false }, [5, 5, 6, 4], {
      capacity: { capacityFactor: 0.5, evalCapacityFactor: 1.0, padToCapacity: true, minCapacity: 2 },
      training: false,
    });
  });

  it('round-robin placement over 4 ranks', async () => {
    await expectEqual({ ...SPEC, seed: 6 }, [3, 8, 2, 5], { placement: roundRobinPlacement(8, 4) });
  });

  it('load-aware placement with replicated hot experts over 2 ranks, with capacity', async () => {
    const placement = loadAwarePlacement([40, 2, 3, 1, 30, 2, 1, 1], 2, { slotsPerRank: 6 });
    expect(placement.replicated).toBe(true);
    await expectEqual({ ...SPEC, seed: 7 }, [8, 6], { placement, capacity: { capacityFactor: 1.0 } });
  });

  it('uneven contiguous blocks (E = 8 over 3 ranks)', async () => {
    await expectEqual({ ...SPEC, seed: 8 }, [4, 5, 6], { placement: contiguousPlacement(8, 3) });
  });
});

/** Rows of a stacked gradient at the given experts with the hidden axis cut to `part` of `parts`. */
function shardRows(
  name: string,
  grad: Float32Array,
  spec: LayerSpec,
  slots: readonly number[],
  part: number,
  parts: number,
) {
  const [d, f] = [spec.dModel, spec.dHidden];
  const width = f / parts;
  const out: number[] = [];
  for (const e of slots) {
    if (name === 'experts.w2') {
      for (let h = part * width; h < (part + 1) * width; h++)
        out.push(...grad.subarray((e * f + h) * d, (e * f + h + 1) * d));
    } else {
      for (let i = 0; i < d; i++)
        out.push(...grad.subarray((e * d + i) * f + part * width, (e * d + i) * f + (part + 1) * width));
    }
  }
  return out;
}

describe('expert parallel combined with expert-tensor and data parallelism (4 virtual ranks)', () => {
  const spec: LayerSpec = { ...SPEC, dHidden: 6, seed: 21, shared: true };
  const tokens = [5, 4, 6, 3];

  it("EP 2 × ETP 2: each expert's hidden width split over 2 ranks", async () => {
    const data = rankData(spec.seed + 100, tokens, spec.dModel);
    const capacity = { capacityFactor: 0.9 };
    const reference = referenceStep(spec, data, capacity);
    const comms = createVirtualCluster({ size: 4 });
    const results = await runVirtualRanks(comms, async (world) => {
      const expert = await world.split(world.rank % 2);
      const expertTensor = await world.split(Math.floor(world.rank / 2));
      const r = await parallelStep(
        spec,
        data,
        { groups: { expert, expertTensor }, capacity, dataRank: world.rank },
        world,
      );
      return { ...r, part: expertTensor.rank, slots: r.ep.placement.slots[expert.rank] as readonly number[] };
    });
    results.forEach((r, rank) => {
      const d = spec.dModel;
      expect(r.y).toAllClose(rowsOf(reference.y, tokens, rank, d), TOL);
      expect(r.xGrad).toAllClose(rowsOf(reference.xGrad, tokens, rank, d), TOL);
      for (const [name, g] of r.grads) {
        const full = reference.grads.get(name) as Float32Array;
        const expected = name.startsWith('experts.') ? shardRows(name, full, spec, r.slots, r.part, 2) : full;
        expect(g, name).toAllClose(expected, TOL);
      }
      r.ep.layer.dispose();
    });
  });

  it('EP 2 × DP 2: expert shards replicated over data-parallel pairs', async () => {
    const data = rankData(spec.seed + 200, tokens, spec.dModel);
    const reference = referenceStep(spec, data);
    const comms = createVirtualCluster({ size: 4 });
    const results = await runVirtualRanks(comms, async (world) => {
      const expert = await world.split(Math.floor(world.rank / 2));
      const dataGroup = await world.split(world.rank % 2);
      const r = await parallelStep(
        spec,
        data,
        { groups: { expert }, dataRank: world.rank, expertSumOver: dataGroup },
        world,
      );
      return { ...r, slots: r.ep.placement.slots[expert.rank] as readonly number[] };
    });
    results.forEach((r, rank) => {
      expectRankEqual(spec, tokens, reference, rank, r);
      r.ep.layer.dispose();
    });
  });
});

describe('expert parallel == single device (worker-thread ranks)', () => {
  it('dropless and capacity over 2 workers', async () => {
    const cases: WorkerCase[] = [
      { spec: { ...SPEC, seed: 11, shared: true }, tokens: [7, 5] },
      {
        spec: { ...SPEC, seed: 12 },
        tokens: [8, 9],
        capacity: { capacityFactor: 0.75, dropPolicy: 'probs' },
      },
    ];
    const results = await launchWorkers<
      { y: number[]; xGrad: number[]; grads: Record<string, number[]>; slots: number[] }[]
    >(new URL('./ranks/expert-parallel.ts', import.meta.url), { size: 2, data: cases });
    cases.forEach((c, i) => {
      const data = rankData(c.spec.seed + 100, c.tokens, c.spec.dModel);
      const reference = referenceStep(c.spec, data, c.capacity);
      results.forEach((perCase, rank) => {
        const r = perCase[i] as (typeof perCase)[number];
        expectRankEqual(c.spec, c.tokens, reference, rank, { ...r, grads: new Map(Object.entries(r.grads)) });
      });
    });
  });
});
