// The documented error contract: every failure a user can cause is a SwitchyardError with a `code` from the
// closed set and an `op`, and its message starts with `[op]` and prints real shapes like `[4, 8]`.
import { afterEach, describe, expect, it } from 'vitest';
import * as S from '../src/index.js';
import {
  add,
  argmax,
  bincount,
  broadcastTo,
  cast,
  concat,
  createCpuBackend,
  dropout,
  type ErrorCode,
  embedding,
  exp,
  fmtShape,
  Generator,
  gather,
  getBackend,
  greater,
  groupedMatmul,
  init,
  layerNorm,
  logicalAnd,
  logicalNot,
  logicalOr,
  matmul,
  mul,
  offsetsFromCounts,
  oneHot,
  reshape,
  routerTopK,
  SwitchyardError,
  scatterAdd,
  setBackend,
  slice,
  softmax,
  sum,
  type Tensor,
  takeAlongAxis,
  tensor,
  tidy,
  topk,
  transpose,
  where,
  zeros,
} from '../src/index.js';
import { expectSwitchyardError } from '../src/testing/index.js';

const CODES: readonly ErrorCode[] = [
  'SHAPE_MISMATCH',
  'DTYPE_MISMATCH',
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'BACKEND_UNAVAILABLE',
  'UNSUPPORTED',
  'USE_AFTER_DISPOSE',
  'NOT_DIFFERENTIABLE',
  'CORRUPT_FILE',
  'INTERNAL',
];

/** Runs `fn` and checks the whole error contract on what it throws. */
function expectError(fn: () => unknown, code: ErrorCode, op?: string): SwitchyardError {
  const err = expectSwitchyardError(fn, code, op);
  expectContract(err);
  return err;
}

function expectContract(err: SwitchyardError): void {
  expect(err).toBeInstanceOf(Error);
  expect(err.name).toBe('SwitchyardError');
  expect(CODES).toContain(err.code);
  expect(typeof err.op).toBe('string');
  expect(err.op.length).toBeGreaterThan(0);
  expect(err.message.startsWith(`[${err.op}] `), err.message).toBe(true);
  expect(err.message.length).toBeGreaterThan(err.op.length + 3);
}

const f32 = (shape: number[]) => zeros(shape);
const i32 = (values: number[]) => tensor(values, { dtype: 'i32' });

describe('SwitchyardError', () => {
  it('is an Error with a name, a code, an op and a message that starts with [op]', () => {
    const err = new SwitchyardError('SHAPE_MISMATCH', 'matmul', 'inner dimensions differ');
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(SwitchyardError);
    expect(err.name).toBe('SwitchyardError');
    expect(err.code).toBe('SHAPE_MISMATCH');
    expect(err.op).toBe('matmul');
    expect(err.message).toBe('[matmul] inner dimensions differ');
    expect(String(err)).toBe('SwitchyardError: [matmul] inner dimensions differ');
    expect(err.stack).toContain('SwitchyardError');
  });

  it('fmtShape prints shapes the way messages do', () => {
    expect(fmtShape([4, 8])).toBe('[4, 8]');
    expect(fmtShape([])).toBe('[]');
    expect(fmtShape([0])).toBe('[0]');
    expect(fmtShape([2, 3, 4])).toBe('[2, 3, 4]');
  });
});

describe('SHAPE_MISMATCH messages print the real shapes', () => {
  it('matmul([4, 8], [16, 2])', () => {
    const err = expectError(() => matmul(f32([4, 8]), f32([16, 2])), 'SHAPE_MISMATCH', 'matmul');
    expect(err.message).toBe('[matmul] inner dimensions differ: a is [4, 8], b is [16, 2]');
  });

  it('matmul with transposed and batched operands says which operand was transposed', () => {
    const err = expectError(
      () => matmul(f32([8, 4]), f32([2, 16]), { transA: true, transB: true }),
      'SHAPE_MISMATCH',
    );
    expect(err.message).toBe(
      '[matmul] inner dimensions differ: a is [8, 4] (transposed), b is [2, 16] (transposed)',
    );
    const batched = expectError(() => matmul(f32([2, 3, 4]), f32([5, 6])), 'SHAPE_MISMATCH');
    expect(batched.message).toBe('[matmul] inner dimensions differ: a is [2, 3, 4], b is [5, 6]');
    const vector = expectError(() => matmul(f32([3]), f32([4])), 'SHAPE_MISMATCH');
    expect(vector.message).toBe('[matmul] inner dimensions differ: a is [3], b is [4]');
  });

  it('matmul with incompatible batch axes or a scalar operand', () => {
    const batch = expectError(() => matmul(f32([2, 3, 4]), f32([3, 4, 5])), 'SHAPE_MISMATCH', 'matmul');
    expect(batch.message).toBe('[matmul] cannot broadcast [2] with [3]');
    const scalarOperand = expectError(() => matmul(f32([]), f32([2])), 'SHAPE_MISMATCH', 'matmul');
    expect(scalarOperand.message).toBe('[matmul] needs operands of rank >= 1: a is [], b is [2]');
  });

  it('elementwise broadcasting names the op and both shapes', () => {
    expect(expectError(() => add(f32([2, 3]), f32([4])), 'SHAPE_MISMATCH', 'add').message).toBe(
      '[add] cannot broadcast [2, 3] with [4]',
    );
    expect(expectError(() => mul(f32([5, 1, 3]), f32([2, 2])), 'SHAPE_MISMATCH', 'mul').message).toBe(
      '[mul] cannot broadcast [5, 1, 3] with [2, 2]',
    );
    expect(expectError(() => greater(f32([0]), f32([2])), 'SHAPE_MISMATCH', 'gt').message).toBe(
      '[gt] cannot broadcast [0] with [2]',
    );
    const cond = tensor([true, false, true]);
    expect(expectError(() => where(cond, f32([2]), 0), 'SHAPE_MISMATCH', 'where').message).toBe(
      '[where] cannot broadcast [3] with [2]',
    );
  });

  it('reshape, broadcastTo and concat', () => {
    expect(expectError(() => reshape(f32([2, 3]), [4]), 'SHAPE_MISMATCH', 'reshape').message).toBe(
      '[reshape] cannot reshape [2, 3] (6 elements) to [4] (4 elements)',
    );
    expect(expectError(() => reshape(f32([2, 3]), [4, -1]), 'SHAPE_MISMATCH', 'reshape').message).toBe(
      '[reshape] cannot reshape [2, 3] to [4, -1]',
    );
    const b = expectError(() => broadcastTo(f32([3]), [2, 4]), 'SHAPE_MISMATCH', 'broadcastTo');
    expect(b.message).toContain('[3]');
    expect(b.message).toContain('[2, 4]');
    const c = expectError(() => concat([f32([2, 3]), f32([2, 4])], 0), 'SHAPE_MISMATCH', 'concat');
    expect(c.message).toBe('[concat] shapes [2, 3], [2, 4] differ outside axis 0');
  });

  it('layerNorm parameters, embedding tables and grouped matmul operands', () => {
    expect(expectError(() => layerNorm(f32([2, 4]), f32([3])), 'SHAPE_MISMATCH', 'layerNorm').message).toBe(
      '[layerNorm] weight must be [4] for x [2, 4], got [3]',
    );
    expect(expectError(() => embedding(f32([5]), i32([0])), 'SHAPE_MISMATCH', 'embedding').message).toBe(
      '[embedding] table must be [V, D], got [5]',
    );
    const g = expectError(
      () => groupedMatmul(f32([4, 3]), f32([2, 5, 6]), i32([0, 2, 4])),
      'SHAPE_MISMATCH',
      'groupedMatmul',
    );
    expect(g.message).toContain('x is [4, 3]');
    expect(g.message).toContain('w is [2, 5, 6]');
  });

  it('backward with a cotangent of the wrong shape', () => {
    const x = tensor([1, 2, 3]).requireGrad();
    const y = mul(x, x);
    expect(expectError(() => y.backward(f32([2])), 'SHAPE_MISMATCH', 'backward').message).toBe(
      '[backward] gradient is [2] but the output is [3]',
    );
  });
});

describe('USE_AFTER_DISPOSE', () => {
  const disposed = (): Tensor => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]);
    t.dispose();
    return t;
  };

  // The op named is the primitive that refused the input (`unary` for exp), so only the code is pinned here.
  it('ops refuse a disposed input and print its shape', () => {
    const err = expectError(() => exp(disposed()), 'USE_AFTER_DISPOSE');
    expect(err.message).toContain('[2, 2]');
    expectError(() => add(disposed(), 1), 'USE_AFTER_DISPOSE');
    expectError(() => add(tensor([1]), disposed()), 'USE_AFTER_DISPOSE');
    expectError(() => matmul(disposed(), tensor([[1], [2]])), 'USE_AFTER_DISPOSE');
    expectError(() => sum(disposed()), 'USE_AFTER_DISPOSE');
    expectError(() => softmax(disposed()), 'USE_AFTER_DISPOSE');
    expectError(() => transpose(disposed()), 'USE_AFTER_DISPOSE');
    expectError(() => reshape(disposed(), [4]), 'USE_AFTER_DISPOSE', 'reshape');
    expectError(() => slice(disposed(), [1]), 'USE_AFTER_DISPOSE');
    expectError(() => cast(disposed(), 'i32'), 'USE_AFTER_DISPOSE');
    expectError(() => concat([tensor([[0, 0]]), disposed()]), 'USE_AFTER_DISPOSE');
    expectError(() => gather(disposed(), i32([0])), 'USE_AFTER_DISPOSE');
  });

  it('reads, backward, detach and assign refuse a disposed tensor', async () => {
    expectError(() => disposed().dataSync(), 'USE_AFTER_DISPOSE', 'dataSync');
    expectError(() => disposed().arraySync(), 'USE_AFTER_DISPOSE');
    expectError(() => disposed().itemSync(), 'USE_AFTER_DISPOSE');
    await expect(disposed().data()).rejects.toMatchObject({
      name: 'SwitchyardError',
      code: 'USE_AFTER_DISPOSE',
      op: 'data',
    });
    await expect(disposed().array()).rejects.toMatchObject({ code: 'USE_AFTER_DISPOSE' });
    expectError(() => disposed().detach(), 'USE_AFTER_DISPOSE', 'detach');
    expectError(() => disposed().backward(), 'USE_AFTER_DISPOSE', 'backward');
    expectError(() => disposed().assign(zeros([2, 2])), 'USE_AFTER_DISPOSE', 'assign');
    expectError(() => zeros([2, 2]).assign(disposed()), 'USE_AFTER_DISPOSE', 'assign');
  });

  it('tensors disposed by tidy are unusable afterwards; dispose is idempotent', () => {
    let escaped: Tensor | undefined;
    tidy(() => {
      escaped = tensor([1, 2, 3]);
      return undefined;
    });
    const t = escaped as Tensor;
    expect(t.isDisposed).toBe(true);
    expect(String(t)).toBe('Tensor(f32 [3], disposed)');
    expectError(() => mul(t, 2), 'USE_AFTER_DISPOSE');
    expect(() => t.dispose()).not.toThrow();
    expectError(() => t.dataSync(), 'USE_AFTER_DISPOSE');
  });
});

describe('DTYPE_MISMATCH', () => {
  it('where needs a bool condition', () => {
    expect(expectError(() => where(tensor([1, 0]), 1, 2), 'DTYPE_MISMATCH', 'where').message).toBe(
      '[where] cond must be bool, got f32 [2]',
    );
    expect(expectError(() => where(i32([1, 0]), 1, 2), 'DTYPE_MISMATCH', 'where').message).toBe(
      '[where] cond must be bool, got i32 [2]',
    );
  });

  it('logical ops need bool tensors', () => {
    expect(
      expectError(() => logicalAnd(tensor([1, 0]), tensor([1, 1])), 'DTYPE_MISMATCH', 'and').message,
    ).toBe('[and] needs bool tensors, got f32 and f32');
    expectError(() => logicalOr(tensor([true]), tensor([1])), 'DTYPE_MISMATCH', 'or');
    expectError(() => logicalAnd(i32([1]), tensor([true])), 'DTYPE_MISMATCH', 'and');
    expect(expectError(() => logicalNot(tensor([1, 0])), 'DTYPE_MISMATCH', 'not').message).toBe(
      '[not] needs a bool tensor, got f32',
    );
  });

  it('index arguments must be i32', () => {
    const x = f32([4, 2]);
    expect(expectError(() => gather(x, tensor([0, 1])), 'DTYPE_MISMATCH', 'gather').message).toBe(
      '[gather] indices must be i32, got f32 [2]',
    );
    expectError(() => gather(x, tensor([true, false])), 'DTYPE_MISMATCH', 'gather');
    expectError(() => scatterAdd(f32([2, 2]), tensor([0, 1]), 4), 'DTYPE_MISMATCH', 'scatterAdd');
    expectError(() => takeAlongAxis(x, tensor([[0], [1], [0], [1]]), 1), 'DTYPE_MISMATCH', 'takeAlongAxis');
    expectError(() => embedding(x, tensor([1])), 'DTYPE_MISMATCH', 'gather');
    expectError(() => bincount(tensor([0, 1]), 2), 'DTYPE_MISMATCH', 'bincount');
    expectError(() => oneHot(tensor([0, 1]), 2), 'DTYPE_MISMATCH', 'oneHot');
    expectError(
      () => groupedMatmul(f32([2, 3]), f32([1, 3, 2]), tensor([0, 2])),
      'DTYPE_MISMATCH',
      'groupedMatmul',
    );
    expectError(() => offsetsFromCounts(tensor([1, 2])), 'DTYPE_MISMATCH', 'offsetsFromCounts');
  });
});

describe('NOT_DIFFERENTIABLE', () => {
  it('integer and boolean tensors cannot require grad', () => {
    const err = expectError(() => i32([1, 2]).requireGrad(), 'NOT_DIFFERENTIABLE', 'requiresGrad');
    expect(err.message).toContain('i32');
    expect(err.message).toContain('[2]');
    expectError(() => {
      tensor([true]).requiresGrad = true;
    }, 'NOT_DIFFERENTIABLE');
  });

  it('backward from an integer or boolean output', () => {
    const x = tensor([1, 3, 2]).requireGrad();
    expect(expectError(() => argmax(x).backward(), 'NOT_DIFFERENTIABLE', 'backward').message).toBe(
      '[backward] a i32 output is not differentiable',
    );
    expectError(() => greater(x, 1).backward(), 'NOT_DIFFERENTIABLE', 'backward');
    expectError(() => topk(x, 1).indices.backward(), 'NOT_DIFFERENTIABLE', 'backward');
  });
});

describe('INVALID_ARGUMENT', () => {
  it('axes out of range name the axis and the rank', () => {
    expect(expectError(() => sum(f32([2, 3]), 2), 'INVALID_ARGUMENT', 'sum').message).toBe(
      '[sum] axis 2 is out of range for rank 2',
    );
    expect(expectError(() => softmax(f32([2, 3]), -3), 'INVALID_ARGUMENT', 'softmax').message).toBe(
      '[softmax] axis -3 is out of range for rank 2',
    );
    expectError(() => sum(f32([2, 3]), [0, -2]), 'INVALID_ARGUMENT', 'sum');
  });

  it('values out of range', () => {
    expectError(() => topk(f32([2, 3]), 4), 'INVALID_ARGUMENT', 'topk');
    expectError(() => dropout(f32([2]), 1.5, new Generator(0)), 'INVALID_ARGUMENT', 'dropout');
    expect(expectError(() => gather(f32([3, 2]), i32([0, 3])), 'INVALID_ARGUMENT', 'gather').message).toBe(
      '[gather] indices[1] = 3 is outside [0, 3)',
    );
    expectError(() => scatterAdd(f32([2]), i32([0, -1]), 2), 'INVALID_ARGUMENT', 'scatterAdd');
    expectError(() => zeros([2, -1]), 'INVALID_ARGUMENT');
    expectError(() => cast(f32([1]), 'f64' as never), 'INVALID_ARGUMENT', 'cast');
    expectError(() => new Generator(-1), 'INVALID_ARGUMENT', 'Generator');
  });

  it('routerTopK: a bias that is not [E], a group limit that does not fit the experts or k', () => {
    const logits = f32([3, 8]);
    const limit = (groups: number, topGroups: number, groupScoreTopN: number) => ({
      groupLimit: { groups, topGroups, groupScoreTopN },
    });
    expect(
      expectError(() => routerTopK(logits, 2, { bias: f32([6]) }), 'SHAPE_MISMATCH', 'routerTopK').message,
    ).toBe('[routerTopK] bias must be float [8] for logits [3, 8], got f32 [6]');
    expectError(() => routerTopK(logits, 2, { bias: zeros([8], 'i32') }), 'DTYPE_MISMATCH', 'routerTopK');
    expect(
      expectError(() => routerTopK(logits, 2, limit(3, 1, 1)), 'INVALID_ARGUMENT', 'routerTopK').message,
    ).toBe('[routerTopK] groupLimit.groups = 3 must divide the 8 experts of logits [3, 8]');
    expect(
      expectError(() => routerTopK(logits, 3, limit(4, 1, 1)), 'INVALID_ARGUMENT', 'routerTopK').message,
    ).toBe(
      '[routerTopK] k = 3 exceeds the 2 experts of groupLimit.topGroups = 1 groups of 2 for logits [3, 8]',
    );
    expectError(() => routerTopK(logits, 2, limit(4, 5, 1)), 'INVALID_ARGUMENT', 'routerTopK');
    expectError(() => routerTopK(logits, 2, limit(4, 2, 3)), 'INVALID_ARGUMENT', 'routerTopK');
    expectError(() => routerTopK(logits, 2, limit(4, 2, 0.5)), 'INVALID_ARGUMENT', 'routerTopK');
  });

  it('routerTopK: the selection bias gets no gradient', () => {
    const logits = tensor([[0.5, -1, 2, 0]]).requireGrad();
    const bias = tensor([1, 0, 0, 0]).requireGrad();
    const { weights, indices } = routerTopK(logits, 2, { score: 'sigmoid', bias });
    expect(Array.from(indices.dataSync())).toEqual([0, 2]);
    sum(weights).backward();
    expect(logits.grad).not.toBeNull();
    expect(bias.grad).toBeNull();
  });

  it('item of a tensor with more than one element', () => {
    expect(expectError(() => f32([2]).itemSync(), 'INVALID_ARGUMENT', 'item').message).toBe(
      '[item] needs a tensor of size 1, got shape [2]',
    );
  });

  it('backward without grad, from a non-scalar, or through a released graph', () => {
    expectError(() => sum(f32([2])).backward(), 'INVALID_ARGUMENT', 'backward');
    const x = tensor([1, 2]).requireGrad();
    expectError(() => mul(x, 2).backward(), 'INVALID_ARGUMENT', 'backward');
    const y = sum(mul(x, x));
    y.backward();
    expectError(() => y.backward(), 'INVALID_ARGUMENT', 'backward');
  });

  it('tidy refuses an async function', () => {
    expectError(() => tidy((async () => tensor([1])) as never), 'INVALID_ARGUMENT', 'tidy');
  });
});

describe('init', () => {
  const previous = getBackend();
  afterEach(() => setBackend(previous));

  it('rejects an unknown backend with INVALID_ARGUMENT, and leaves the active backend alone', async () => {
    const before = getBackend();
    const rejection = init({ backend: 'nope' as never });
    await expect(rejection).rejects.toBeInstanceOf(SwitchyardError);
    await expect(rejection).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', op: 'init' });
    await rejection.catch((err: SwitchyardError) => {
      expectContract(err);
      expect(err.message).toContain("'nope'");
    });
    expect(getBackend()).toBe(before);
  });

  it('cpu initialises, and tensors on different backends do not mix', async () => {
    const old = tensor([1, 2]);
    await expect(init({ backend: 'cpu' })).resolves.toMatchObject({ backend: 'cpu' });
    expect(getBackend()).not.toBe(previous);
    const fresh = tensor([3, 4]);
    const err = expectError(() => add(old, fresh), 'INVALID_ARGUMENT');
    expect(err.message).toContain('different backends');
    setBackend(createCpuBackend());
  });
});

describe('loose arguments are rejected, not guessed', () => {
  it('names the bad argument', () => {
    const x = S.tensor([[1, 2]]);
    const g = new S.Generator(0);
    for (const [name, fn] of [
      ['dropout p null', () => S.dropout(x, null as unknown as number, g)],
      ['tensor dtype empty', () => S.tensor([1], { dtype: '' as S.DType })],
      ['transpose perm NaN', () => S.transpose(x, Number.NaN as unknown as number[])],
      ['oneHot depth -1', () => S.oneHot(S.tensor([1], { dtype: 'i32' }), -1)],
      ['squeeze axes null', () => S.squeeze(x, null as unknown as number[])],
      ['matmul options null', () => S.matmul(x, x, null as unknown as S.MatmulOptions)],
    ] as const) {
      expect(fn, name).toThrow(S.SwitchyardError);
    }
  });
});

describe('glu', () => {
  it('refuses operands of different shapes (no broadcasting), printing both', () => {
    const msg = (gate: string, up: string) =>
      `[glu] gate and up must have the same shape (glu does not broadcast), got gate ${gate} and up ${up}`;
    expect(expectError(() => S.glu(f32([4, 8]), f32([8])), 'SHAPE_MISMATCH', 'glu').message).toBe(
      msg('[4, 8]', '[8]'),
    );
    expect(expectError(() => S.glu(f32([4, 1]), f32([4, 8]), 'gelu'), 'SHAPE_MISMATCH', 'glu').message).toBe(
      msg('[4, 1]', '[4, 8]'),
    );
    expect(expectError(() => S.glu(f32([]), f32([1])), 'SHAPE_MISMATCH', 'glu').message).toBe(
      msg('[]', '[1]'),
    );
  });

  it('refuses integer and bool operands, an unknown fn and a non-tensor', () => {
    expect(expectError(() => S.glu(i32([1, 2]), f32([2])), 'DTYPE_MISMATCH', 'glu').message).toBe(
      '[glu] gate and up must be float tensors, got gate i32 [2] and up f32 [2]',
    );
    expectError(() => S.glu(f32([2]), tensor([true, false])), 'DTYPE_MISMATCH', 'glu');
    expect(
      expectError(() => S.glu(f32([2]), f32([2]), 'tanh' as S.GluFn), 'INVALID_ARGUMENT', 'glu').message,
    ).toBe("[glu] unknown fn 'tanh'; expected one of 'silu', 'gelu', 'geluTanh', 'relu'");
    expect(
      expectError(() => S.glu([1, 2] as unknown as Tensor, f32([2])), 'INVALID_ARGUMENT', 'glu').message,
    ).toBe('[glu] gate must be a Tensor, got an array');
    const gone = f32([2]);
    gone.dispose();
    expect(expectError(() => S.glu(f32([2]), gone), 'USE_AFTER_DISPOSE', 'glu').message).toContain('[2]');
  });
});

describe('weightedGather', () => {
  const rows = (shape: number[]) => zeros(shape, 'i32');

  it('refuses mismatched shapes, printing them', () => {
    expect(
      expectError(
        () => S.weightedGather(f32([4, 8]), rows([3, 2]), f32([3, 1])),
        'SHAPE_MISMATCH',
        'weightedGather',
      ).message,
    ).toBe('[weightedGather] weights [3, 1] must have the shape of rows [3, 2]');
    expect(
      expectError(
        () => S.weightedGather(f32([4, 8]), rows([6]), f32([6])),
        'SHAPE_MISMATCH',
        'weightedGather',
      ).message,
    ).toBe('[weightedGather] rows must be [T, K], got [6]');
    expect(
      expectError(
        () => S.weightedGather(f32([]), rows([1, 1]), f32([1, 1])),
        'SHAPE_MISMATCH',
        'weightedGather',
      ).message,
    ).toBe('[weightedGather] src must have rank >= 1, got a scalar');
  });

  it('refuses non-i32 rows, integer src or weights, and a non-tensor', () => {
    expect(
      expectError(
        () => S.weightedGather(f32([4, 8]), f32([3, 2]), f32([3, 2])),
        'DTYPE_MISMATCH',
        'weightedGather',
      ).message,
    ).toBe('[weightedGather] rows must be i32, got f32 [3, 2]');
    expect(
      expectError(
        () => S.weightedGather(rows([4, 8]), rows([3, 2]), f32([3, 2])),
        'DTYPE_MISMATCH',
        'weightedGather',
      ).message,
    ).toBe(
      '[weightedGather] src and weights must be float tensors, got src i32 [4, 8] and weights f32 [3, 2]',
    );
    expectError(
      () => S.weightedGather(f32([4, 8]), rows([3, 2]), rows([3, 2])),
      'DTYPE_MISMATCH',
      'weightedGather',
    );
    expect(
      expectError(
        () => S.weightedGather([1, 2] as unknown as Tensor, rows([1, 1]), f32([1, 1])),
        'INVALID_ARGUMENT',
        'weightedGather',
      ).message,
    ).toBe('[weightedGather] src must be a Tensor, got an array');
  });

  it('accepts rows out of range: they add nothing', () => {
    const y = S.weightedGather(
      tensor([
        [1, 2],
        [3, 4],
      ]),
      tensor([[-1, 1, 2]], { dtype: 'i32' }),
      tensor([[5, 2, 7]]),
    );
    expect(Array.from(y.dataSync())).toEqual([6, 8]);
  });
});
