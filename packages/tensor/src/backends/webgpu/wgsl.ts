import type { DType } from '../../dtype.js';
import { SwitchyardError } from '../../errors.js';
import { type Shape, stridesOf } from '../../shape.js';
import { META_SLOTS, WORKGROUP } from './runtime.js';

/** Every dtype is stored in 32-bit words on the GPU: floats (f16/bf16 rounded) as f32, bool as u32. */
export type WgslType = 'f32' | 'i32' | 'u32';

export function wgslType(dtype: DType): WgslType {
  if (dtype === 'i32') return 'i32';
  if (dtype === 'bool') return 'u32';
  return 'f32';
}

/** Largest rank the strided kernels index (shapes and strides live in the uniform block). */
export const MAX_RANK = 8;

export function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) {
    throw new SwitchyardError(
      'UNSUPPORTED',
      op,
      `the webgpu backend indexes at most ${MAX_RANK} axes, got rank ${shape.length}`,
    );
  }
}

/**
 * The uniform block and helpers shared by every kernel: `u(i)` reads slot i of `meta`, `stridedOffset` maps a
 * flat output index to an input offset from the output shape and the input's (broadcast) strides.
 */
export const PRELUDE = /* wgsl */ `
@group(0) @binding(0) var<uniform> params: array<vec4<u32>, ${META_SLOTS / 4}>;
fn u(i: u32) -> u32 { return params[i >> 2u][i & 3u]; }
fn uf(i: u32) -> f32 { return bitcast<f32>(u(i)); }
fn ui(i: u32) -> i32 { return bitcast<i32>(u(i)); }
// A function call is never constant-folded, so NaN and infinity bit patterns are allowed here.
fn f32bits(b: u32) -> f32 { return bitcast<f32>(b); }
// Bit tests, because compilers may fold x != x away.
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn stridedOffset(flat: u32, rank: u32, shapeAt: u32, strideAt: u32) -> u32 {
  var rem = flat;
  var off = 0u;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let dim = u(shapeAt + u32(d));
    off += (rem % dim) * u(strideAt + u32(d));
    rem = rem / dim;
  }
  return off;
}
`;

/**
 * Memoises a WGSL source builder on its arguments: each variant's source is built once and returned as the
 * same string object afterwards, whose hash V8 keeps, so the runtime's pipeline lookup costs no hashing. A
 * fresh 3 KB source cost about 7 µs a launch to build and hash on the host, a fifth of a small op. Arguments
 * other than strings, numbers and booleans need `key`, which names the variant.
 */
export function memo<A extends (string | number | boolean)[]>(
  build: (...args: A) => string,
): (...args: A) => string;
export function memo<A extends unknown[]>(
  build: (...args: A) => string,
  key: (...args: A) => string,
): (...args: A) => string;
export function memo<A extends unknown[]>(
  build: (...args: A) => string,
  key: (...args: A) => string = (...args) => args.join('|'),
): (...args: A) => string {
  const codes = new Map<string, string>();
  return (...args) => {
    const variant = key(...args);
    let code = codes.get(variant);
    if (code === undefined) codes.set(variant, (code = build(...args)));
    return code;
  };
}

/** Entry point of a 1-D kernel over `meta[0]` threads: the body sees the flat index `i`. */
export function main1d(body: string): string {
  return /* wgsl */ `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${WORKGROUP}u + lid.x;
  if (i >= u(0u)) { return; }
${body}
}
`;
}

/** Storage bindings 1..n: inputs read-only, the last one written. */
export function storage(inputs: readonly [string, string][], output: [string, string]): string {
  const lines = inputs.map(
    ([name, type], k) => `@group(0) @binding(${k + 1}) var<storage, read> ${name}: array<${type}>;`,
  );
  lines.push(
    `@group(0) @binding(${inputs.length + 1}) var<storage, read_write> ${output[0]}: array<${output[1]}>;`,
  );
  return lines.join('\n');
}

/** Builds the uniform block: u32 slots, with helpers for floats, ints and shapes. */
export class Meta {
  readonly data = new Uint32Array(META_SLOTS);
  readonly #f32 = new Float32Array(this.data.buffer);
  readonly #i32 = new Int32Array(this.data.buffer);

  u32(slot: number, value: number): this {
    this.data[slot] = value;
    return this;
  }

  f32(slot: number, value: number): this {
    this.#f32[slot] = value;
    return this;
  }

  i32(slot: number, value: number): this {
    this.#i32[slot] = value;
    return this;
  }

  list(slot: number, values: readonly number[]): this {
    values.forEach((v, k) => {
      this.data[slot + k] = v;
    });
    return this;
  }
}

/** Strides of `inShape` broadcast against `outShape` (0 on broadcast axes), right-aligned. */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const s = stridesOf(inShape);
  const offset = outShape.length - inShape.length;
  return outShape.map((_, d) => (d < offset || inShape[d - offset] === 1 ? 0 : (s[d - offset] as number)));
}
