// Two expert-parallel layers with residual connections, z = h + MoE₂(h), h = x + MoE₁(x), trained with the
// documented protocol (residuals from `out.input`, backward in reverse layer order) equal the single-device
// pair: outputs, input gradients and every parameter's gradient.
import { add, concat, fromHost, mul, sum, tidy } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import {
  allReduceGradients,
  createVirtualCluster,
  ExpertParallelLayer,
  runVirtualRanks,
  withBackend,
} from '../src/index.js';
import { buildLayer, type LayerSpec, rankData } from './helpers.js';

const TOL = { rtol: 1e-4, atol: 1e-5 };
const first: LayerSpec = { dModel: 6, numExperts: 4, topK: 2, dHidden: 5, seed: 41, shared: true };
const second: LayerSpec = { ...first, seed: 42, shared: false };

describe('chained expert-parallel layers', () => {
  it('equal the single-device layers, outputs and gradients', async () => {
    const tokens = [5, 7];
    const d = first.dModel;
    const data = rankData(43, tokens, d);

    const [m1, m2] = [buildLayer(first, { capacityFactor: 1 }), buildLayer(second)];
    const x = concat(
      data.map((r) => fromHost(r.x, [r.x.length / d, d], 'f32')),
      0,
    ).requireGrad();
    const target = concat(
      data.map((r) => fromHost(r.target, [r.target.length / d, d], 'f32')),
      0,
    );
    const { z } = tidy(() => {
      const h = add(x, m1.forward(x).y);
      return { z: add(h, m2.forward(h).y) };
    });
    tidy(() => sum(mul(z, target)).backward());
    const firstCount = m1.namedParameters().length;
    const reference = {
      z: z.dataSync(),
      x: x.grad!.dataSync(),
      params: [...m1.namedParameters(), ...m2.namedParameters()].map(
        ([name, p]) => [name, p.grad!.dataSync()] as const,
      ),
    };

    const comms = createVirtualCluster({ size: 2 });
    const results = await runVirtualRanks(comms, async (comm) => {
      const mine = data[comm.rank]!;
      const { l1, l2, xr, tr } = withBackend(comm.backend, () => ({
        l1: buildLayer(first),
        l2: buildLayer(second),
        xr: fromHost(mine.x, [mine.x.length / d, d], 'f32').requireGrad(),
        tr: fromHost(mine.target, [mine.target.length / d, d], 'f32'),
      }));
      const ep1 = new ExpertParallelLayer(l1, { expert: comm }, { capacity: { capacityFactor: 1 } });
      const ep2 = new ExpertParallelLayer(l2, { expert: comm });
      const out1 = await ep1.forward(xr);
      const h = withBackend(comm.backend, () => add(out1.input, out1.y));
      const out2 = await ep2.forward(h);
      const zr = withBackend(comm.backend, () => add(out2.input, out2.y));
      withBackend(comm.backend, () => tidy(() => sum(mul(zr, tr)).backward()));
      await ep2.backward(); // continues into h's graph: layer 1's combine and its residual
      await ep1.backward(); // continues into x
      const replicated = [...l1.namedParameters(), ...l2.namedParameters()].filter(
        ([n]) => !n.startsWith('experts.'),
      );
      await allReduceGradients(
        replicated.map(([, p]) => p),
        comm,
        { average: false },
      );
      return {
        z: zr.dataSync(),
        x: xr.grad!.dataSync(),
        params: [...l1.namedParameters(), ...l2.namedParameters()].map(
          ([n, p]) => [n, p.grad!.dataSync()] as const,
        ),
        slots: [ep1.placement.slots[comm.rank]!, ep2.placement.slots[comm.rank]!],
        release: [l1, l2, xr, tr, h, zr, out1.y, out2.y] as { dispose(): void }[],
      };
    });
    results.forEach((r, rank) => {
      const start = tokens.slice(0, rank).reduce((a, b) => a + b, 0) * d;
      const rows = tokens[rank]! * d;
      expect(r.z).toAllClose(reference.z.subarray(start, start + rows), TOL);
      expect(r.x).toAllClose(reference.x.subarray(start, start + rows), TOL);
      // Parameters in the same order on both sides: layer 1's, then layer 2's.
      r.params.forEach(([name, g], i) => {
        const full = reference.params[i]![1];
        const layer = i < firstCount ? 0 : 1;
        const row = full.length / first.numExperts;
        const expected = name.startsWith('experts.')
          ? r.slots[layer]!.flatMap((e) => Array.from(full.subarray(e * row, (e + 1) * row)))
          : full;
        expect(g, `layer ${layer + 1} ${name}`).toAllClose(expected, TOL);
      });
      for (const t of r.release) t.dispose();
    });
    for (const t of [m1, m2, x, target, z] as { dispose(): void }[]) t.dispose();
  });
});
