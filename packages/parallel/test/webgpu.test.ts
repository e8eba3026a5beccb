// Expert parallelism over 2 virtual ranks, each on its own WebGPU device (Dawn in Node; SwiftShader where
// there is no GPU): outputs and gradients equal the single-device CPU layer. Tiny shapes (SwiftShader is an
// emulator). Runs whenever an adapter exists and says so when it skips; SWITCHYARD_REQUIRE_WEBGPU=1 turns a
// missing adapter into a failure.
import { createWebGPUBackend } from '@switchyard/tensor';
import { webgpuForTests } from '@switchyard/tensor/testing';
import { describe, expect, it } from 'vitest';
import { createVirtualCluster, runVirtualRanks } from '../src/index.js';
import { type LayerSpec, parallelStep, rankData, referenceStep } from './helpers.js';

const probe = await webgpuForTests('parallel WebGPU test');
const available = probe !== null;
probe?.destroy();

const TOL = { rtol: 1e-4, atol: 1e-5 };

describe.runIf(available)('expert parallel on 2 WebGPU virtual ranks', () => {
  it('with capacity (assignments dropped) equals the single-device CPU layer', async () => {
    const spec: LayerSpec = { dModel: 4, numExperts: 4, topK: 2, dHidden: 3, seed: 31 };
    const tokens = [3, 4];
    const d = spec.dModel;
    const capacity = { capacityFactor: 0.75 };
    const data = rankData(spec.seed, tokens, d);
    const reference = referenceStep(spec, data, capacity);
    const backends = [await createWebGPUBackend(), await createWebGPUBackend()];
    const comms = createVirtualCluster({ backends });
    const results = await runVirtualRanks(comms, async (comm) => {
      const r = await parallelStep(spec, data, { groups: { expert: comm }, capacity }, comm);
      const slots = r.ep.placement.slots[comm.rank] as readonly number[];
      r.ep.layer.dispose();
      return { ...r, slots };
    });
    for (const b of backends) b.destroy();
    results.forEach((r, rank) => {
      const start = tokens.slice(0, rank).reduce((a, b) => a + b, 0) * d;
      const rows = (tokens[rank] as number) * d;
      expect(r.y).toAllClose(reference.y.subarray(start, start + rows), TOL);
      expect(r.xGrad).toAllClose(reference.xGrad.subarray(start, start + rows), TOL);
      const row = spec.dModel * spec.dHidden;
      for (const name of ['experts.w1', 'experts.w2', 'experts.w3']) {
        const full = reference.grads.get(name) as Float32Array;
        const expected = r.slots.flatMap((e) => Array.from(full.subarray(e * row, (e + 1) * row)));
        expect(r.grads.get(name), name).toAllClose(expected, TOL);
      }
      expect(r.grads.get('router.weight')).toAllClose(
        reference.grads.get('router.weight') as Float32Array,
        TOL,
      );
    });
  });
});
