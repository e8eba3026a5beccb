// The gated activation kernels: glu (fn(gate) · up) and gluGrad (the cotangent of one of its inputs), in one
// pass each. The loops compute fn with the unary kernel's scalar functions and round it to f32 before the
// product, so glu equals mul(unary(gate), up) bit for bit; f32 'silu' from WASM_MIN elements runs in the
// WebAssembly SIMD module (swiglu, swigluGrad), whose silu is the unary silu kernel's.
import type { AnyHostArray } from '../../dtype.js';
import type { GluFn } from '../../primitives.js';
import type { KernelInput, KernelOutput } from '../backend.js';
import { erf, unaryFns } from './elementwise.js';
import { overwrittenF32 } from './host-pool.js';
import { WASM_MIN, wasmVector } from './wasm-vector.js';

type In = KernelInput<AnyHostArray>;
type Arr = AnyHostArray;

// The unary kernel's scalar functions, one call site each below (so each inlines).
const { silu, gelu, geluTanh, relu, sigmoid } = unaryFns;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const fround = Math.fround;

/** `d[i] = f32(fn(a[i])) · b[i]`: the unary kernel's f32 value, then the product, as the mul kernel rounds it. */
function gluLoop(fn: GluFn, a: Arr, b: Arr, d: Arr): void {
  const n = d.length;
  switch (fn) {
    case 'silu':
      for (let i = 0; i < n; i++) d[i] = fround(silu(a[i] as number)) * (b[i] as number);
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) d[i] = fround(gelu(a[i] as number)) * (b[i] as number);
      return;
    case 'geluTanh':
      for (let i = 0; i < n; i++) d[i] = fround(geluTanh(a[i] as number)) * (b[i] as number);
      return;
    case 'relu':
      for (let i = 0; i < n; i++) d[i] = fround(relu(a[i] as number)) * (b[i] as number);
      return;
  }
}

/**
 * `d[i] = (g[i] · u[i]) · fn'(x[i])`, evaluated in float64 and rounded once (the JavaScript loop; f32 SwiGLU
 * from WASM_MIN elements takes f32 steps in the WebAssembly kernel). The derivatives are the unary
 * VJP's formulas: relu' = [x > 0] (0 at NaN), silu' = s (1 + x (1 - s)) with s = sigmoid(x), gelu' =
 * Phi(x) + x phi(x), and geluTanh' by the chain rule through its tanh.
 */
function gluGateGradLoop(fn: GluFn, x: Arr, u: Arr, g: Arr, d: Arr): void {
  const n = d.length;
  switch (fn) {
    case 'silu':
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        const s = sigmoid(v);
        d[i] = (g[i] as number) * (u[i] as number) * (s * (1 + v * (1 - s)));
      }
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        const dv = 0.5 * (1 + erf(v * Math.SQRT1_2)) + v * Math.exp(-0.5 * v * v) * INV_SQRT_2PI;
        d[i] = (g[i] as number) * (u[i] as number) * dv;
      }
      return;
    case 'geluTanh':
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        const v2 = v * v;
        const t = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v2 * v));
        const dv = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v2);
        d[i] = (g[i] as number) * (u[i] as number) * dv;
      }
      return;
    case 'relu':
      for (let i = 0; i < n; i++) d[i] = (g[i] as number) * (u[i] as number) * ((x[i] as number) > 0 ? 1 : 0);
      return;
  }
}

/** The WebAssembly module when `fn` is 'silu' over at least WASM_MIN f32 elements, else null. */
function wasmSilu(fn: GluFn, arrays: readonly Arr[]): ReturnType<typeof wasmVector> {
  if (fn !== 'silu' || (arrays[0] as Arr).length < WASM_MIN) return null;
  return arrays.every((a) => a instanceof Float32Array) ? wasmVector() : null;
}

function glu(fn: GluFn, a: Arr, b: Arr): Float32Array {
  const dst = overwrittenF32(a.length);
  const wasm = wasmSilu(fn, [a, b]);
  if (wasm) wasm.swiglu(a as Float32Array, b as Float32Array, dst);
  else gluLoop(fn, a, b, dst);
  return dst;
}

/** `fn(gate) · up` (float inputs of one shape and dtype; f16 and bf16 arrive decoded as f32). */
export function gluKernel(
  [gate, up]: readonly In[],
  { fn }: { fn: GluFn },
  _out: KernelOutput,
): AnyHostArray {
  return glu(fn, (gate as In).data, (up as In).data);
}

/**
 * The cotangent of glu's `wrt` input from inputs [gate, up, g]: `g · fn(gate)` for 'up' (the glu kernel with
 * g in up's place, so bit for bit what the mul VJP gives), `g · up · fn'(gate)` for 'gate'.
 */
export function gluGradKernel(
  [gate, up, g]: readonly In[],
  { fn, wrt }: { fn: GluFn; wrt: 'gate' | 'up' },
  _out: KernelOutput,
): AnyHostArray {
  const [x, u, dy] = [(gate as In).data, (up as In).data, (g as In).data];
  if (wrt === 'up') return glu(fn, x, dy);
  const dst = overwrittenF32(x.length);
  const wasm = wasmSilu(fn, [x, u, dy]);
  if (wasm) wasm.swigluGrad(x as Float32Array, u as Float32Array, dy as Float32Array, dst);
  else gluGateGradLoop(fn, x, u, dy, dst);
  return dst;
}
