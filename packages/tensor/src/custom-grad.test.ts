import { describe, expect, it } from 'vitest';
import {
  add,
  cast,
  customGrad,
  exp,
  Generator,
  keep,
  liveTensorCount,
  memory,
  mul,
  noGrad,
  sin,
  sub,
  sum,
  type Tensor,
  tensor,
  tidy,
  valueAndGrad,
  zerosLike,
} from './index.js';
import { expectSwitchyardError } from './testing/expect-error.js';
import { gradcheck } from './testing/gradcheck.js';

/** x ↦ x² with a hand-written gradient, counting its backward calls. */
function countedSquare() {
  const calls: Tensor[][] = [];
  const square = customGrad(
    (x: Tensor) => ({
      value: mul(x, x),
      saved: [x],
      backward: (dy, { saved }) => {
        calls.push([dy]);
        return [mul(mul(saved[0] as Tensor, 2), dy)];
      },
    }),
    { name: 'square' },
  );
  return { square, calls };
}

/** (a, b) ↦ [a·b, exp(a)]: two inputs, two outputs, with its exact vector-Jacobian product. */
const productAndExp = customGrad((a: Tensor, b: Tensor) => {
  const e = exp(a);
  return {
    value: [mul(a, b), e],
    saved: [a, b, e],
    backward: ([dp, de], { saved: [sa, sb, se], needsInputGrad }) => [
      add(mul(dp as Tensor, sb as Tensor), mul(de as Tensor, se as Tensor)),
      needsInputGrad[1] ? mul(dp as Tensor, sa as Tensor) : null,
    ],
  };
});

describe('customGrad', () => {
  it('records one node whose backward gives the gradient, through backward() and valueAndGrad', () => {
    const { square, calls } = countedSquare();
    const x = tensor([1, -2, 3]).requireGrad();
    const y = square(x);
    expect(y.requiresGrad).toBe(true);
    expect(y.isLeaf).toBe(false);
    expect(y).toAllClose([1, 4, 9]);
    sum(mul(y, tensor([1, 10, 100]))).backward();
    expect(x.grad).toAllClose([2, -40, 600]);
    expect(calls).toHaveLength(1);
    const { value, grads } = valueAndGrad((t: Tensor) => sum(square(t)))(tensor([0.5, 4]));
    expect(value.itemSync()).toBeCloseTo(16.25, 5);
    expect(grads[0]).toAllClose([1, 8]);
    x.dispose();
  });

  it('passes gradcheck against a known two-input, two-output function', async () => {
    const gen = new Generator(11);
    const a = gen.normal([3, 4]);
    const b = gen.normal([3, 4]);
    const f = (p: Tensor, q: Tensor) => {
      const [prod, e] = productAndExp(p, q);
      return add(mul(prod as Tensor, 2), sin(e as Tensor));
    };
    const result = await gradcheck(f, [a, b]);
    expect(result.ok, result.message).toBe(true);
    // A wrong backward is caught by the same check.
    const wrong = customGrad((p: Tensor) => ({ value: mul(p, p), backward: (dy) => [dy] }));
    expect((await gradcheck((p) => wrong(p), [a])).ok).toBe(false);
    for (const t of [a, b]) t.dispose();
  });

  it('gives inputs that do not require grad nothing and tells the backward which inputs need one', () => {
    const a = tensor([1, 2]).requireGrad();
    const b = tensor([3, 4]);
    const [p] = productAndExp(a, b);
    sum(p as Tensor).backward();
    expect(a.grad).toAllClose([3, 4]);
    expect(b.grad).toBeNull();
    const seen: boolean[][] = [];
    const f = customGrad((x: Tensor, w: Tensor) => ({
      value: mul(x, w),
      backward: (dy, { needsInputGrad }) => {
        seen.push([...needsInputGrad]);
        return [dy, dy];
      },
    }));
    sum(f(tensor([1, 1]), a)).backward();
    expect(seen).toEqual([[false, true]]);
    expect(a.grad).toAllClose([4, 5]);
    // Nothing requires grad (or noGrad is on): the function just computes.
    const plain = f(tensor([2]), tensor([3]));
    expect(plain.requiresGrad).toBe(false);
    expect(noGrad(() => f(a, a)).requiresGrad).toBe(false);
    a.dispose();
  });

  it('accumulates with primitive paths, zero-fills outputs no gradient reached, hands out inputs anew', () => {
    const a = tensor([0, 1]).requireGrad();
    const b = tensor([2, 5]).requireGrad();
    const [p, e] = productAndExp(a, b);
    // p is used twice, e not at all: its cotangent arrives as zeros.
    sum(add(mul(p as Tensor, 3), mul(p as Tensor, a))).backward();
    expect(e?.requiresGrad).toBe(true);
    // d/da (3ab + a²b) = 3b + 2ab (through the custom node and the primitive), d/db = 3a + a².
    expect(a.grad).toAllClose([6, 25]);
    expect(b.grad).toAllClose([0, 4]);
    const identity = customGrad((x: Tensor) => ({ value: x, backward: (dy) => [dy] }));
    const y = identity(a);
    expect(y).not.toBe(a);
    expect(a.isLeaf).toBe(true);
    a.zeroGrad();
    sum(y).backward();
    expect(a.grad).toAllClose([1, 1]);
  });

  it('alwaysRun runs the backward with zero cotangents when no gradient reached it', () => {
    const run = (alwaysRun: boolean) => {
      const received: number[][] = [];
      const inner = customGrad(
        (x: Tensor) => ({
          value: mul(x, 2),
          backward: (dy) => {
            received.push(Array.from(dy.dataSync()));
            return [mul(dy, 2)];
          },
        }),
        { alwaysRun },
      );
      // The outer function stops the gradient: its input gets none.
      const stop = customGrad((y: Tensor) => ({ value: y, backward: () => [null] }));
      const x = tensor([1, 2]).requireGrad();
      sum(add(stop(inner(x)), x)).backward();
      expect(x.grad).toAllClose([1, 1]);
      x.dispose();
      return received;
    };
    expect(run(false)).toEqual([]);
    expect(run(true)).toEqual([[0, 0]]);
  });

  it('runs backwards in the same order for the same graph structure', () => {
    const trace = (values: number[]) => {
      const order: string[] = [];
      const tag = (name: string) =>
        customGrad(
          (x: Tensor) => ({
            value: mul(x, 1),
            backward: (dy) => {
              order.push(name);
              return [dy];
            },
          }),
          { alwaysRun: true },
        );
      const x = tensor(values).requireGrad();
      const left = tag('b')(tag('a')(x));
      const right = tag('d')(tag('c')(x));
      sum(add(tag('e')(left), right)).backward();
      x.dispose();
      return order;
    };
    const first = trace([1, 2]);
    expect(first).toHaveLength(5);
    expect(first.indexOf('b')).toBeLessThan(first.indexOf('a'));
    expect(first.indexOf('d')).toBeLessThan(first.indexOf('c'));
    expect(trace([7, -3])).toEqual(first);
  });

  it('follows the memory rules: saved storages live until backward or release, nothing leaks', () => {
    const before = memory();
    const w = tensor([1, 2, 3]).requireGrad();
    // The forward's intermediates, saved or not, are disposed when the call returns; tidy frees the rest.
    const loss = tidy(() => {
      const [p, e] = productAndExp(w, mul(w, 2));
      return sum(add(p as Tensor, e as Tensor));
    });
    expect(liveTensorCount()).toBe(before.tensors + 2);
    loss.backward();
    expect(w.grad).toAllClose(
      [1, 2, 3].map((v) => 4 * v + Math.exp(v)),
      { rtol: 1e-5 },
    );
    expectSwitchyardError(() => loss.backward(), 'INVALID_ARGUMENT', /already released/);
    for (const t of [loss, w]) t.dispose();
    expect(memory()).toEqual(before);

    // Disposing the outputs of a graph never back-propagated releases the saved storages.
    const x = tensor([1, 2]).requireGrad();
    const out = tidy(() => productAndExp(x, x));
    for (const t of out) t.dispose();
    x.dispose();
    expect(memory()).toEqual(before);

    // A training loop stays flat.
    const { square } = countedSquare();
    const v = keep(tensor([0.5, -0.25]).requireGrad());
    const step = () =>
      tidy(() => {
        sum(square(mul(v, 3))).backward();
        v.assign(sub(v, mul(v.grad as Tensor, 0.01)));
        v.zeroGrad();
      });
    step();
    const start = memory();
    for (let i = 0; i < 50; i++) step();
    expect(memory()).toEqual(start);
    v.dispose();
    expect(memory()).toEqual(before);
  });

  it('checks what the backward returns and names the function, without leaking', () => {
    const bad = (name: string, backward: (dy: Tensor) => unknown) =>
      customGrad(
        (x: Tensor, y: Tensor) => ({
          value: add(x, y),
          backward: backward as (dy: Tensor) => (Tensor | null)[],
        }),
        { name },
      );
    const cases: [string, (dy: Tensor) => unknown, Parameters<typeof expectSwitchyardError>[1], RegExp][] = [
      [
        'shape',
        (dy) => [dy, tensor([1, 2, 3])],
        'SHAPE_MISMATCH',
        /cotangent 1 of shape \[3\] for input 1 of shape \[2\]/,
      ],
      ['dtype', (dy) => [cast(dy, 'i32'), null], 'DTYPE_MISMATCH', /i32 cotangent 0 for the f32 input 0/],
      ['count', (dy) => [dy], 'INVALID_ARGUMENT', /returned 1 cotangent\(s\) for 2 input\(s\)/],
      ['array', (dy) => dy, 'INVALID_ARGUMENT', /must return an array of 2 cotangent\(s\).*got a Tensor/],
      [
        'tensor',
        (dy) => [dy, 3],
        'INVALID_ARGUMENT',
        /cotangent 1 returned by backward must be a Tensor, got a number/,
      ],
    ];
    const before = liveTensorCount();
    for (const [name, backward, code, message] of cases) {
      const x = tensor([1, 2]).requireGrad();
      const y = tensor([3, 4]).requireGrad();
      const loss = tidy(() => sum(bad(name, backward)(x, y)));
      const error = expectSwitchyardError(() => loss.backward(), code, message);
      expect(error.op).toBe(`customGrad(${name})`);
      for (const t of [x, y, loss]) t.dispose();
      expect(liveTensorCount()).toBe(before);
    }
  });

  it('checks its inputs and what the function returns', () => {
    const x = tensor([1, 2]).requireGrad();
    const f = customGrad((t: Tensor) => ({ value: t, backward: (dy) => [dy] }));
    expectSwitchyardError(
      () => f(3 as unknown as Tensor),
      'INVALID_ARGUMENT',
      /input 0 must be a Tensor, got a number/,
    );
    const gone = tensor([1]);
    gone.dispose();
    expectSwitchyardError(() => f(gone), 'USE_AFTER_DISPOSE', /input 0 of shape \[1\] was disposed/);
    const noBackward = customGrad((t: Tensor) => ({ value: t }) as never);
    expectSwitchyardError(
      () => noBackward(x),
      'INVALID_ARGUMENT',
      /must return \{ value, saved\?, backward \}/,
    );
    const notTensor = customGrad((_: Tensor) => ({ value: [1] as unknown as Tensor[], backward: () => [] }));
    expectSwitchyardError(() => notTensor(x), 'INVALID_ARGUMENT', /output 0 must be a Tensor, got a number/);
    const integer = customGrad((t: Tensor) => ({ value: cast(t, 'i32'), backward: (dy) => [dy] }));
    expectSwitchyardError(() => integer(x), 'NOT_DIFFERENTIABLE', /output 0 is i32 \[2\]/);
    expect(integer(zerosLike(x)).dtype).toBe('i32');
    x.dispose();
  });
});
