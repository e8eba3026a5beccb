// Incremental decoding: per-row rotary offsets (left-padded batches decode as if each row were alone) and the
// compressed latent cache of multi-head latent attention (absorbed and expanded).
import {
  concat,
  fromHost,
  Generator,
  liveTensorCount,
  noGrad,
  slice,
  type Tensor,
  tidy,
  zeros,
} from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import {
  KVCache,
  LatentKVCache,
  MultiHeadAttention,
  MultiHeadLatentAttention,
  RotaryEmbedding,
} from '../src/index.js';
import { expectError, host, randn } from './helpers.js';

function mla(seed: number): MultiHeadLatentAttention {
  return new MultiHeadLatentAttention({
    dModel: 12,
    heads: 3,
    qLoraRank: 6,
    kvLoraRank: 5,
    qkNopeHeadDim: 4,
    qkRopeHeadDim: 4,
    vHeadDim: 3,
    causal: true,
    generator: new Generator(seed),
  });
}

function mha(seed: number): MultiHeadAttention {
  return new MultiHeadAttention({
    dModel: 8,
    heads: 4,
    kvHeads: 2,
    causal: true,
    rotary: {},
    generator: new Generator(seed),
  });
}

/** Row `row` of x [B, S, D], positions from..from+len-1, as [1, len, D]. */
function rowSlice(x: Tensor, row: number, from: number, len: number): Tensor {
  return slice(x, [row, from, 0], [1, len, x.shape[2] as number]);
}

/** x [1, S, D] with `pads` zero positions in front: [1, pads + S, D]. */
function leftPad(x: Tensor, pads: number): Tensor {
  return concat([zeros([1, pads, x.shape[2] as number]), x], 1);
}

type Attention = MultiHeadAttention | MultiHeadLatentAttention;

/**
 * Two rows of lengths 3 and 5 decoded in one left-padded batch (prefill, then one token per step) against
 * each row decoded alone: every real position gets the same output (up to the matmul kernel's rounding).
 */
function paddedEqualsAlone(m: Attention, makeCache: () => KVCache | LatentKVCache): void {
  const d = m.dModel;
  type Options = { cache: KVCache | LatentKVCache; positionOffsets?: number[]; keyMask?: Tensor };
  const forward = (x: Tensor, o: Options) =>
    m instanceof MultiHeadLatentAttention
      ? m.forward(x, o)
      : m.forward(x, { ...o, cache: o.cache as KVCache });
  const lengths = [3, 5];
  const steps = 3;
  const xs = lengths.map((len, i) => randn([1, len + steps, d], 40 + i));
  const before = liveTensorCount();
  noGrad(() =>
    tidy(() => {
      const alone = xs.map((x, i) => {
        const cache = makeCache();
        const len = lengths[i]!;
        const pieces = [forward(rowSlice(x, 0, 0, len), { cache })];
        for (let t = 0; t < steps; t++) pieces.push(forward(rowSlice(x, 0, len + t, 1), { cache }));
        cache.dispose();
        return host(concat(pieces, 1));
      });
      const width = Math.max(...lengths);
      const pads = lengths.map((len) => width - len);
      const prompt = concat(
        xs.map((x, i) => leftPad(rowSlice(x, 0, 0, lengths[i]!), pads[i]!)),
        0,
      );
      const cache = makeCache();
      const positionOffsets = pads.map((p) => -p);
      const keyMask = (t: number) => boolRows(pads.map((p) => Array.from({ length: t }, (_, j) => j >= p)));
      const batch = [forward(prompt, { cache, positionOffsets, keyMask: keyMask(width) })];
      for (let t = 0; t < steps; t++) {
        const next = concat(
          xs.map((x, i) => rowSlice(x, 0, lengths[i]! + t, 1)),
          0,
        );
        batch.push(forward(next, { cache, positionOffsets, keyMask: keyMask(width + t + 1) }));
      }
      cache.dispose();
      const out = host(concat(batch, 1));
      const total = width + steps;
      lengths.forEach((len, i) => {
        const start = (i * total + pads[i]!) * d;
        expectClose(out.slice(start, start + (len + steps) * d), alone[i]!);
      });
    }),
  );
  for (const x of xs) x.dispose();
  expect(liveTensorCount()).toBe(before - xs.length);
}

/** Same length and every value within 1e-5 (decoding and the full forward may round differently). */
function expectClose(a: number[], b: number[]): void {
  expect(a.length).toBe(b.length);
  expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-5);
}

/** A bool [B, T] tensor from rows of booleans. */
function boolRows(rows: boolean[][]): Tensor {
  return fromHost(
    rows.flat().map((v) => (v ? 1 : 0)),
    [rows.length, rows[0]!.length],
    'bool',
  );
}

describe('per-row rotary offsets', () => {
  it('rotating with one offset per row equals rotating each row alone', () => {
    const rope = new RotaryEmbedding(6);
    const x = randn([2, 3, 2, 6], 1);
    noGrad(() => {
      const both = host(rope.rotate(x, [4, 0]));
      const first = host(rope.rotate(slice(x, [0, 0, 0, 0], [1, 3, 2, 6]), 4));
      const second = host(rope.rotate(slice(x, [1, 0, 0, 0], [1, 3, 2, 6]), 0));
      expect(both).toEqual([...first, ...second]);
    });
    x.dispose();
  });

  it('refuses offsets that are not one integer per row', () => {
    const rope = new RotaryEmbedding(4);
    const x = randn([2, 1, 1, 4], 2);
    expectError(() => rope.rotate(x, [1]), 'INVALID_ARGUMENT', /2 integers/);
    expectError(() => rope.rotate(x, [1, 0.5]), 'INVALID_ARGUMENT', /2 integers/);
    expectError(() => rope.rotate(x, -1), 'INVALID_ARGUMENT', /non-negative/);
    const attn = mha(3);
    const y = randn([2, 1, 8], 4);
    expectError(() => attn.forward(y, { positionOffsets: [0] }), 'INVALID_ARGUMENT', /positionOffsets/);
    for (const t of [x, y]) t.dispose();
    attn.dispose();
  });
});

describe('left-padded batches decode like rows alone', () => {
  it('multi-head attention with a KVCache', () => {
    const attn = mha(5);
    paddedEqualsAlone(attn, () => new KVCache());
    attn.dispose();
  });

  it('latent attention with an expanded latent cache', () => {
    const m = mla(6);
    paddedEqualsAlone(m, () => new LatentKVCache({ mode: 'expanded' }));
    m.dispose();
  });
});

describe('LatentKVCache', () => {
  it('caches the latent and the rotary key; absorbed and expanded decoding equal the full forward', () => {
    const m = mla(7);
    const [B, S] = [2, 6];
    const x = randn([B, S, 12], 8);
    const before = liveTensorCount();
    noGrad(() =>
      tidy(() => {
        const full = host(m.forward(x));
        for (const mode of ['expanded', 'absorbed'] as const) {
          const cache = new LatentKVCache({ mode });
          const pieces = [m.forward(slice(x, [0, 0, 0], [B, 2, 12]), { cache })];
          for (let t = 2; t < S; t++) pieces.push(m.forward(slice(x, [0, t, 0], [B, 1, 12]), { cache }));
          expect(cache.length).toBe(S);
          expect(cache.latent!.shape).toEqual([B, S, 5]);
          expect(cache.ropeKey!.shape).toEqual([B, S, 4]);
          const stepwise = host(concat(pieces, 1));
          expectClose(stepwise, full);
          cache.dispose();
          expect(cache.length).toBe(0);
        }
      }),
    );
    expect(liveTensorCount()).toBe(before);
    x.dispose();
    m.dispose();
  });

  it('absorbed attention with padding and per-row offsets matches expanded', () => {
    const m = mla(9);
    const x = randn([2, 4, 12], 10);
    const keyMask = boolRows([
      [false, true, true, true],
      [true, true, true, true],
    ]);
    noGrad(() => {
      const outs = (['expanded', 'absorbed'] as const).map((mode) => {
        const cache = new LatentKVCache({ mode });
        const y = host(m.forward(x, { cache, keyMask, positionOffsets: [-1, 0] }));
        cache.dispose();
        return y;
      });
      expectClose(outs[1]!, outs[0]!);
    });
    for (const t of [x, keyMask]) t.dispose();
    m.dispose();
  });

  it('refuses a batch that does not match the cache, bad shapes and an unknown mode', () => {
    const m = mla(11);
    const cache = new LatentKVCache();
    noGrad(() => {
      m.forward(randn([2, 3, 12], 12), { cache });
      expectError(() => m.forward(randn([1, 1, 12], 13), { cache }), 'SHAPE_MISMATCH', /holds batch 2/);
    });
    expectError(() => cache.append(zeros([2, 1, 4]), zeros([2, 1, 4])), 'SHAPE_MISMATCH', /do not extend/);
    expectError(() => cache.append(zeros([2, 1]), zeros([2, 1, 4])), 'SHAPE_MISMATCH', /latent \[B, S, L\]/);
    expectError(() => new LatentKVCache({ mode: 'compressed' as never }), 'INVALID_CONFIG', /mode/);
    cache.dispose();
    m.dispose();
  });
});
