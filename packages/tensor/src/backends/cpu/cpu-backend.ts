import {
  type AnyHostArray,
  type DType,
  fromBf16Bits,
  fromF16Bits,
  hostArray,
  toBf16Bits,
  toF16Bits,
} from '../../dtype.js';
import { invariant, SwitchyardError } from '../../errors.js';
import type { Backend, KernelInput } from '../backend.js';
import { GemmThreads, threadsUnavailable, withGemmThreads } from './gemm-threads.js';
import { clearRecycled, recycle, recycledBytes } from './host-pool.js';
import { cpuKernels } from './kernels.js';
import { clearKept, keptBytes } from './packed-operands.js';
import { type WasmGemm, wasmGemm } from './wasm-gemm.js';
import { shareWasmMemory, wasmMemory } from './wasm-memory.js';

/** The GEMM worker pool of a backend asked for `threads` threads; the kernels' memory becomes shared. */
function gemmThreads(threads: number): GemmThreads {
  const unavailable = (why: string) =>
    new SwitchyardError('UNSUPPORTED', 'createCpuBackend', `threads: ${threads} unavailable: ${why}`);
  if (!wasmGemm()) throw unavailable('this engine lacks WebAssembly SIMD');
  const why =
    threadsUnavailable() ?? (shareWasmMemory() ? null : 'this engine cannot share WebAssembly memory');
  if (why) throw unavailable(why);
  // wasmGemm() has recompiled against the shared memory: the workers instantiate that module.
  return new GemmThreads(threads, (wasmGemm() as WasmGemm).module, wasmMemory());
}

/** CPU storage: f16/bf16 keep their 16-bit encodings; other dtypes their host arrays. */
export type CpuData = AnyHostArray | Uint16Array;

function encode(values: AnyHostArray, dtype: DType): CpuData {
  if (dtype === 'f16') return Uint16Array.from(values as Float32Array, toF16Bits);
  if (dtype === 'bf16') return Uint16Array.from(values as Float32Array, toBf16Bits);
  return values;
}

function decode(data: CpuData, dtype: DType): AnyHostArray {
  if (dtype === 'f16') return Float32Array.from(data as Uint16Array, fromF16Bits);
  if (dtype === 'bf16') return Float32Array.from(data as Uint16Array, fromBf16Bits);
  return data as AnyHostArray;
}

/** Options of `createCpuBackend`. */
export interface CpuBackendOptions {
  /**
   * Threads that compute the WebAssembly matrix products, this one included (default 1). With more, each
   * large enough product is split by rows or columns between this thread and `threads - 1` worker threads;
   * the results are the same bits. The kernels' WebAssembly memory becomes shared for the rest of this thread
   * (every CPU backend here then uses it; copies into it are slower, which small products feel). Needs
   * SharedArrayBuffer and a thread that may block (Node, or a Web Worker of a cross-origin isolated page):
   * elsewhere it throws `UNSUPPORTED`. Element-wise kernels stay on this thread.
   */
  threads?: number;
}

/**
 * The CPU backend: TypedArray kernels, the reference every other backend is tested against, with matrix
 * products in WebAssembly SIMD (relaxed SIMD where the engine has it) once they are large enough to repay it,
 * optionally split between worker threads (`threads`).
 * f16 and bf16 are storage formats here: inputs are decoded to f32, computed, and the result rounded back on
 * store.
 */
export function createCpuBackend(options: CpuBackendOptions = {}): Backend<CpuData> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'createCpuBackend',
      `threads must be a whole number >= 1, got ${String(threads)}`,
    );
  }
  const pool = threads > 1 ? gemmThreads(threads) : null;
  let buffers = 0;
  let bytes = 0;
  const account = (data: CpuData): CpuData => {
    buffers++;
    bytes += data.byteLength;
    return data;
  };
  return {
    name: 'cpu',
    upload(values, dtype) {
      const copy = hostArray(dtype, values.length);
      copy.set(values);
      return account(encode(copy, dtype));
    },
    async read(handle, dtype) {
      return decode(handle, dtype).slice();
    },
    readSync(handle, dtype) {
      return decode(handle, dtype).slice();
    },
    free(handle) {
      buffers--;
      bytes -= handle.byteLength;
      recycle(handle);
    },
    run(prim, inputs, attrs, out) {
      const decoded: KernelInput<AnyHostArray>[] = inputs.map((t) => ({
        data: decode(t.data, t.dtype),
        shape: t.shape,
        dtype: t.dtype,
      }));
      const kernel = cpuKernels[prim] as (
        i: readonly KernelInput<AnyHostArray>[],
        a: typeof attrs,
        o: typeof out,
      ) => AnyHostArray;
      const result = pool
        ? withGemmThreads(pool, () => kernel(decoded, attrs, out))
        : kernel(decoded, attrs, out);
      // Storages are recycled when freed, so two must never share an array.
      invariant(
        decoded.every((t) => t.data !== result),
        prim,
        'a CPU kernel returned one of its inputs instead of a new array',
      );
      const data = encode(result, out.dtype);
      // f16/bf16 go through f32 arrays that nothing keeps.
      if (data !== result) recycle(result);
      for (const [i, t] of decoded.entries()) if (t.data !== inputs[i]?.data) recycle(t.data);
      return account(data);
    },
    memory() {
      return { buffers, bytes, pooledBytes: recycledBytes(), packedBytes: keptBytes() };
    },
    /**
     * Drops the freed arrays kept for reuse and the packed matrix operands (both shared by every CPU backend
     * of this thread) and stops the GEMM worker threads; tensors stay usable, products then run on this thread.
     */
    destroy() {
      clearRecycled();
      clearKept();
      pool?.destroy();
    },
    describe() {
      const gemm = wasmGemm();
      const variant = gemm ? `WebAssembly ${gemm.relaxed ? 'relaxed SIMD' : 'SIMD128'}` : 'JavaScript';
      return `cpu (TypedArray kernels, ${variant} GEMM${threads > 1 ? ` on ${threads} threads` : ''})`;
    },
  };
}
