/**
 * Element types. `f32`, `i32` and `bool` are compute types. `f16` and `bf16` are storage formats: they hold
 * values rounded to their precision, arithmetic on them is computed in f32 and rounded back, and
 * `cast` converts between any pair.
 */
export type DType = 'f32' | 'f16' | 'bf16' | 'i32' | 'bool';

export type FloatDType = 'f32' | 'f16' | 'bf16';

export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i32', 'bool'];

/** The typed array a dtype is exchanged as on the host: floats as Float32Array (f16/bf16 decoded). */
export type HostArray<D extends DType = DType> = D extends 'i32'
  ? Int32Array
  : D extends 'bool'
    ? Uint8Array
    : Float32Array;

export type AnyHostArray = Float32Array | Int32Array | Uint8Array;

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'f32' || dtype === 'f16' || dtype === 'bf16';
}

/** Bytes per element in storage (bool counts as one byte). */
export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'f32':
    case 'i32':
      return 4;
    case 'f16':
    case 'bf16':
      return 2;
    case 'bool':
      return 1;
  }
}

export function hostArray(dtype: DType, size: number): AnyHostArray {
  return new (hostArrayType(dtype))(size);
}

/** The host array type of a dtype: Int32Array for i32, Uint8Array for bool, Float32Array for the floats. */
export function hostArrayType(
  dtype: DType,
): Int32ArrayConstructor | Uint8ArrayConstructor | Float32ArrayConstructor {
  if (dtype === 'i32') return Int32Array;
  if (dtype === 'bool') return Uint8Array;
  return Float32Array;
}

/**
 * Result dtype of combining two dtypes in arithmetic: f32 wins over f16/bf16, a float wins over i32 and bool,
 * i32 wins over bool; f16 with bf16 gives f32.
 */
export function promote(a: DType, b: DType): DType {
  if (a === b) return a;
  if (isFloat(a) && isFloat(b)) return 'f32';
  if (isFloat(a)) return a;
  if (isFloat(b)) return b;
  return 'i32';
}

const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

/** Encodes a number to IEEE binary16 bits, rounding to nearest even; overflow gives ±Infinity. */
export function toF16Bits(value: number): number {
  f32Buf[0] = value;
  const x = u32Buf[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** Decodes IEEE binary16 bits to a number. */
export function fromF16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Encodes a number to bfloat16 bits (the top half of f32), rounding to nearest even. */
export function toBf16Bits(value: number): number {
  f32Buf[0] = value;
  const x = u32Buf[0] as number;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Decodes bfloat16 bits to a number. */
export function fromBf16Bits(bits: number): number {
  u32Buf[0] = (bits & 0xffff) << 16;
  return f32Buf[0] as number;
}

/** Rounds every element of `values` in place to the precision of a storage dtype. */
export function roundToDtype(values: Float32Array, dtype: FloatDType): Float32Array {
  if (dtype === 'f16')
    for (let i = 0; i < values.length; i++) values[i] = fromF16Bits(toF16Bits(values[i] as number));
  else if (dtype === 'bf16')
    for (let i = 0; i < values.length; i++) values[i] = fromBf16Bits(toBf16Bits(values[i] as number));
  return values;
}
