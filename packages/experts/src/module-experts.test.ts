// Shape letters: R routed rows, D model width, F hidden width, E experts.
import { MLP, Module } from '@switchyard/nn';
import {
  Generator,
  liveTensorCount,
  mul,
  reshape,
  slice,
  stack,
  sub,
  sum,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '@switchyard/tensor';
import { expectSwitchyardError } from '@switchyard/tensor/testing';
import { describe, expect, it } from 'vitest';
import { FeatureConv, LoRAFFN } from '../test/custom-experts.js';
import { GroupedExperts } from './grouped-experts.js';
import { ModuleExperts, type ModuleExpertsRows } from './module-experts.js';

const E = 4;
const D = 6;
const F = 5;
/** Expert 1 gets no rows and the last two rows are padding. */
const COUNTS = [2, 0, 3, 1];
const R = 8;
const ROWS: ModuleExpertsRows[] = ['segment', 'masked'];

/** Expert e's [D, F] and [F, D] slices of stacked weights. */
function expertWeights(grouped: GroupedExperts, e: number): { w1: Tensor; w2: Tensor } {
  return {
    w1: reshape(slice(grouped.w1, [e, 0, 0], [1, D, F]), [D, F]),
    w2: reshape(slice(grouped.w2, [e, 0, 0], [1, F, D]), [F, D]),
  };
}

/** y and the gradient of sum(y * cotangent) with respect to the rows, for one experts container. */
function forwardBackward(
  experts: { forward(x: Tensor, counts: Tensor): Tensor },
  seed: number,
): { y: Tensor; dx: Tensor } {
  return tidy(() => {
    const gen = new Generator(seed);
    const x = gen.normal([R, D]).requireGrad();
    const y = experts.forward(x, tensor(COUNTS, { dtype: 'i32' }));
    sum(mul(y, gen.normal([R, D]))).backward();
    const dx = x.grad as Tensor;
    x.grad = null;
    return { y, dx };
  });
}

/** Disposes tensors, the modules' gradients and the modules. */
function release(tensors: Tensor[], ...modules: Module[]): void {
  for (const t of tensors) t.dispose();
  for (const m of modules) {
    m.zeroGrad();
    m.dispose();
  }
}

describe('ModuleExperts: construction', () => {
  const gen = new Generator(0);
  const mlp = () => new MLP(D, F, { generator: gen });

  it('holds E modules found by parameter walking, rows "segment" by default', () => {
    const experts = new ModuleExperts({ experts: [mlp(), mlp(), mlp()], dModel: D });
    expect(experts.numExperts).toBe(3);
    expect(experts.rows).toBe('segment');
    expect(experts.namedParameters().map(([name, p]) => [name, p.shape])).toEqual([
      ['modules.0.w1', [D, F]],
      ['modules.0.w2', [F, D]],
      ['modules.1.w1', [D, F]],
      ['modules.1.w2', [F, D]],
      ['modules.2.w1', [D, F]],
      ['modules.2.w2', [F, D]],
    ]);
    experts.eval();
    expect(experts.modules.every((m) => !m.training)).toBe(true);
    experts.dispose();
  });

  it('rejects bad configs with INVALID_CONFIG naming the field', () => {
    const one = mlp();
    const make = (config: unknown) => () => new ModuleExperts(config as never);
    expectSwitchyardError(make(undefined), 'INVALID_CONFIG', /config/);
    expectSwitchyardError(make({ experts: [], dModel: D }), 'INVALID_CONFIG', /non-empty array/);
    expectSwitchyardError(
      make({ experts: [one, {}], dModel: D }),
      'INVALID_CONFIG',
      /experts\[1\] must be a Module/,
    );
    expectSwitchyardError(
      make({ experts: [one, one], dModel: D }),
      'INVALID_CONFIG',
      /same module as experts\[0\]/,
    );
    expectSwitchyardError(
      make({ experts: [one], dModel: 0 }),
      'INVALID_CONFIG',
      /dModel must be a positive integer/,
    );
    expectSwitchyardError(make({ experts: [one], dModel: D, rows: 'all' }), 'INVALID_CONFIG', /rows/);
    const experts = new ModuleExperts({ experts: [one], dModel: D });
    expectSwitchyardError(() => {
      experts.rows = 'rows' as ModuleExpertsRows;
    }, 'INVALID_CONFIG');
    one.dispose();
  });

  it('checks its inputs and what each expert returns, printing the shapes', () => {
    class Widen extends Module {
      forward(x_ND: Tensor): Tensor {
        return zeros([x_ND.shape[0] as number, D + 1]);
      }
    }
    const experts = new ModuleExperts({ experts: [mlp(), new Widen()], dModel: D });
    const live = liveTensorCount();
    const counts = tensor([1, 1], { dtype: 'i32' });
    expectSwitchyardError(
      () => tidy(() => experts.forward(zeros([2, D + 1]), counts)),
      'SHAPE_MISMATCH',
      /routed_RD must be \[R, 6\], got \[2, 7\]/,
    );
    expectSwitchyardError(
      () => tidy(() => experts.forward(zeros([2, D]), tensor([2], { dtype: 'i32' }))),
      'SHAPE_MISMATCH',
      /counts_E must be \[2\]/,
    );
    expectSwitchyardError(
      () => tidy(() => experts.forward(zeros([2, D]), tensor([2, 1], { dtype: 'i32' }))),
      'INVALID_ARGUMENT',
      /sums to 3 but routed_RD has only 2 rows/,
    );
    for (const rows of ROWS) {
      experts.rows = rows;
      const n = rows === 'segment' ? 1 : 2;
      expectSwitchyardError(
        () => tidy(() => experts.forward(zeros([2, D]), counts)),
        'SHAPE_MISMATCH',
        new RegExp(`expert 1 returned f32 \\[${n}, 7\\] for rows \\[${n}, 6\\]`),
      );
    }
    counts.dispose();
    expect(liveTensorCount()).toBe(live);
    experts.dispose();
  });
});

describe('ModuleExperts of plain FFNs equals GroupedExperts with the same weights', () => {
  for (const rows of ROWS) {
    it(`rows '${rows}': outputs, row gradients and every weight gradient (counts [${COUNTS}], R ${R})`, () => {
      const live = liveTensorCount();
      const grouped = new GroupedExperts({
        numExperts: E,
        dModel: D,
        dHidden: F,
        activation: 'gelu',
        init: (shape) => new Generator(7).normal(shape, 0, 0.5),
        generator: new Generator(1),
      });
      const mlps = Array.from({ length: E }, (_, e) => {
        const m = new MLP(D, F, { activation: 'gelu', generator: new Generator(2) });
        tidy(() => m.loadStateDict(expertWeights(grouped, e)));
        return m;
      });
      const experts = new ModuleExperts({ experts: mlps, dModel: D, rows });
      const want = forwardBackward(grouped, 3);
      const got = forwardBackward(experts, 3);
      expect(got.y).toAllClose(want.y, { rtol: 1e-5, atol: 1e-6 });
      expect(
        got.y
          .dataSync()
          .slice(6 * D)
          .every((v) => v === 0),
      ).toBe(true);
      expect(got.dx).toAllClose(want.dx, { rtol: 1e-5, atol: 1e-6 });
      tidy(() => {
        for (const name of ['w1', 'w2'] as const) {
          const stacked = stack(
            mlps.map((m) => m[name].grad ?? zeros(m[name].shape)),
            0,
          );
          expect(stacked, `${name} gradients`).toAllClose(grouped[name].grad as Tensor, {
            rtol: 1e-5,
            atol: 1e-6,
          });
        }
      });
      release([want.y, want.dx, got.y, got.dx], grouped, experts);
      expect(liveTensorCount()).toBe(live);
    });
  }
});

describe('ModuleExperts: custom expert modules', () => {
  it('a LoRA-adapted FFN starts as its frozen base FFN, and only the adapters train', () => {
    const live = liveTensorCount();
    const gen = new Generator(4);
    const grouped = new GroupedExperts({
      numExperts: E,
      dModel: D,
      dHidden: F,
      activation: 'gelu',
      generator: gen,
    });
    const experts = new ModuleExperts({
      experts: Array.from({ length: E }, (_, e) =>
        tidy(() => new LoRAFFN(expertWeights(grouped, e), 2, gen).keep()),
      ),
      dModel: D,
    });
    expect(experts.trainableParameters().map((p) => p.shape)).toEqual(
      Array.from({ length: E }, () => [
        [D, 2],
        [2, F],
        [F, 2],
        [2, D],
      ]).flat(),
    );
    const base = forwardBackward(grouped, 5);
    const before = forwardBackward(experts, 5);
    expect(before.y).toAllClose(base.y, { rtol: 1e-5, atol: 1e-6 });
    const lora = experts.modules[0] as LoRAFFN;
    expect(lora.w1.grad).toBeNull();
    expect(Math.max(...Array.from((lora.b1.grad as Tensor).dataSync(), Math.abs))).toBeGreaterThan(0);
    for (const p of experts.trainableParameters()) {
      tidy(() => p.assign(sub(p, mul(p.grad as Tensor, 0.5))));
      p.zeroGrad();
    }
    const after = forwardBackward(experts, 5);
    const moved = tidy(() => sum(mul(sub(after.y, base.y), sub(after.y, base.y))).itemSync());
    expect(moved).toBeGreaterThan(1e-6);
    // Expert 1 received no rows, so its adapters did not move: it is still its base FFN.
    const idle = experts.modules[1] as LoRAFFN;
    expect(idle.b1.dataSync().every((v) => v === 0)).toBe(true);
    release([base.y, base.dx, before.y, before.dx, after.y, after.dx], grouped, experts);
    expect(liveTensorCount()).toBe(live);
  });

  it('a convolutional expert (1-D conv over the features) maps each segment alone; segment == masked', () => {
    const live = liveTensorCount();
    const gen = new Generator(6);
    const experts = new ModuleExperts({
      experts: Array.from({ length: E }, () => new FeatureConv(3, 4, gen)),
      dModel: D,
    });
    const x = gen.normal([R, D]);
    tidy(() => {
      const y = experts.forward(x, tensor(COUNTS, { dtype: 'i32' }));
      let row = 0;
      COUNTS.forEach((n, e) => {
        const alone = (experts.modules[e] as FeatureConv).forward(slice(x, [row, 0], [n, D]));
        expect(slice(y, [row, 0], [n, D]), `expert ${e}`).toAllClose(alone, { rtol: 1e-6, atol: 1e-7 });
        row += n;
      });
      expect(
        slice(y, [row, 0], [R - row, D])
          .dataSync()
          .every((v) => v === 0),
      ).toBe(true);
      experts.rows = 'masked';
      expect(experts.forward(x, tensor(COUNTS, { dtype: 'i32' }))).toAllClose(y, { rtol: 1e-6, atol: 1e-7 });
    });
    const { y, dx } = forwardBackward(experts, 8);
    for (const [name, p] of experts.namedParameters()) {
      const g = Array.from((p.grad as Tensor).dataSync());
      expect(g.every(Number.isFinite), name).toBe(true);
      // Expert 1 has no rows: its parameters get zero gradient; every other one learns.
      expect(
        g.some((v) => v !== 0),
        name,
      ).toBe(!name.startsWith('modules.1.'));
    }
    release([x, y, dx], experts);
    expect(liveTensorCount()).toBe(live);
  });
});
