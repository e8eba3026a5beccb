// Shape letters: T tokens, D model width, G outer groups (each an inner MoE layer), E inner experts.
// Hierarchical MoE: an MoELayer whose experts are MoELayers, through ModuleExperts and NestedMoE.
import { GroupedExperts, ModuleExperts } from '@switchyard/experts';
import { switchLoadBalancingLoss } from '@switchyard/losses';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import {
  add,
  Generator,
  liveTensorCount,
  mean,
  mul,
  SwitchyardError,
  square,
  sub,
  type Tensor,
  tidy,
} from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { disposeStats, MoELayer, type MoEOutput, NestedMoE, readStats } from '../src/index.js';

const T = 12;
const D = 8;
const G = 2;
const E = 4;

function hierarchical(seed: number) {
  const gen = new Generator(seed);
  const inner = Array.from(
    { length: G },
    () =>
      new MoELayer({
        router: new TopKRouter({ dModel: D, numExperts: E, topK: 2, normalize: true, generator: gen }),
        experts: new GroupedExperts({
          numExperts: E,
          dModel: D,
          dHidden: 16,
          activation: 'gelu',
          generator: gen,
        }),
      }),
  );
  const groups = new ModuleExperts({ experts: inner.map((layer) => new NestedMoE(layer)), dModel: D });
  const layer = new MoELayer({
    // Top-1 of 2 groups without renormalisation: each token's output is p_g(x) * inner_g(x).
    router: new TopKRouter({ dModel: D, numExperts: G, topK: 1, generator: gen }),
    experts: groups,
  });
  return { gen, inner, groups, layer };
}

function release(out: MoEOutput): void {
  out.y.dispose();
  disposeRouting(out.routing);
  disposeStats(out.stats);
}

describe('hierarchical MoE: an MoELayer whose experts are MoELayers', () => {
  it('equals sending each token through its group by hand: y[t] = p_g(t) * inner_g(x)[t]', () => {
    const live = liveTensorCount();
    const { gen, inner, groups, layer } = hierarchical(0);
    const x = gen.normal([T, D]);
    const out = layer.forward(x);
    const token = out.routing.token_A.dataSync();
    const group = out.routing.expert_A.dataSync();
    const weight = out.routing.weight_A.dataSync();
    // Inner routing is per token and dropless, so each inner layer applied to every token gives the rows of
    // the tokens it received.
    const everyToken = inner.map((l) => {
      const o = l.forward(x);
      const values = o.y.dataSync();
      release(o);
      return values;
    });
    const expected = new Float32Array(T * D);
    token.forEach((t, a) => {
      const g = group[a] as number;
      for (let j = 0; j < D; j++) {
        const i = t * D + j;
        expected[i] = (expected[i] as number) + (weight[a] as number) * (everyToken[g]?.[i] as number);
      }
    });
    expect(out.y).toAllClose(expected, { rtol: 1e-5, atol: 1e-6 });
    release(out);
    x.dispose();
    // The outer layer's dispose frees the whole tree: the inner layers' parameters and their kept outputs.
    layer.dispose();
    expect(groups.modules.map((g) => g.last)).toEqual([null, null]);
    expect(liveTensorCount()).toBe(live);
  });

  it('keeps the routing and stats of every inner layer reachable after the outer forward', async () => {
    const { gen, groups, layer } = hierarchical(1);
    expect(groups.modules.map((g) => g.last)).toEqual([null, null]);
    const x = gen.normal([T, D]);
    const out = layer.forward(x);
    const outer = await readStats(out.stats);
    expect(outer.tokensPerExpert.reduce((a, b) => a + b)).toBe(T);
    for (const [g, nested] of groups.modules.entries()) {
      const last = nested.last;
      if (!last) throw new Error(`group ${g} kept no output`);
      const n = outer.tokensPerExpert[g] as number;
      expect(last.routing.probs_TE.shape).toEqual([n, E]);
      const stats = await readStats(last.stats);
      // Each of the group's n tokens picked 2 of its 4 experts.
      expect(stats.tokensPerExpert.reduce((a, b) => a + b)).toBe(2 * n);
      expect(stats.droppedFraction).toBe(0);
      expect(Number.isFinite(stats.routerEntropy)).toBe(true);
    }
    release(out);
    x.dispose();
    groups.dispose();
    expect(groups.modules.map((g) => g.last)).toEqual([null, null]);
    layer.dispose();
  });

  it('trains end to end with outer and inner balance losses; memory stays flat across steps', () => {
    const live = liveTensorCount();
    const { gen, groups, layer } = hierarchical(2);
    const x = gen.normal([T, D]);
    const target = gen.normal([T, D], 0, 0.1);
    const counts: number[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      const loss = tidy(() => {
        const out = layer.forward(x);
        const mse = mean(square(sub(out.y, target)));
        let total = add(mse, switchLoadBalancingLoss(out.routing));
        for (const g of groups.modules) {
          if (g.last) total = add(total, switchLoadBalancingLoss(g.last.routing));
        }
        total.backward();
        if (step === 0) {
          for (const [name, p] of layer.namedParameters()) {
            const grad = Array.from((p.grad as Tensor).dataSync(), Math.abs);
            expect(Math.max(...grad), `${name} gets a gradient`).toBeGreaterThan(0);
          }
        }
        for (const p of layer.parameters()) {
          p.assign(sub(p, mul(p.grad as Tensor, 0.2)));
          p.zeroGrad();
        }
        return mse.itemSync();
      });
      losses.push(loss);
      counts.push(liveTensorCount());
    }
    expect(losses.at(-1) as number).toBeLessThan(losses[0] as number);
    // Only the last inner outputs are held: the count is the same after every step.
    expect(new Set(counts.slice(1)).size).toBe(1);
    x.dispose();
    target.dispose();
    groups.dispose();
    layer.dispose();
    expect(liveTensorCount()).toBe(live);
  });

  it('NestedMoE takes an MoELayer only', () => {
    expect(() => new NestedMoE({} as MoELayer)).toThrow(SwitchyardError);
  });
});
