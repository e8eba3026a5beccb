// Runs the WebAssembly SIMD GEMM (gemm-module.ts) over one shared, growable WebAssembly.Memory: each operand
// is copied in as compact lines (one TypedArray.set when it is contiguous), packed into panels by the module,
// multiplied, and C is copied back out. Each variant is compiled on first use.

import type { GemmBatch } from './gemm-batch.js';
import { gemmModuleBytes } from './gemm-module.js';
import { activeGemmThreads } from './gemm-threads.js';
import { KEEP_MIN_FLOATS, keptOperand } from './packed-operands.js';
import { copyLines, sharedMaxPages, wasmHeap, wasmMemory } from './wasm-memory.js';

/**
 * Micro-kernel shape. V8 on x64 allocates 15 SIMD registers and schedules a loop iteration's loads before its
 * arithmetic: a 4 x 8 tile holds 8 accumulators, 2 B vectors, 4 broadcasts and 1 product, exactly 15. Larger
 * tiles spill and measure slower (6 x 8: 26 against 40 GFLOP/s at 1024^2 on a Zen 4 core).
 */
const MR = 4;
const NR = 8;
/** Steps of k per block: a B sliver of KC x 8 floats (16 KiB) stays in L1. */
const KC = 512;
/** A panels per block: 32 panels x 4 rows x KC floats (256 KiB) stay in L2. */
const MC_PANELS = 32;
/**
 * Floats of packed B held at once, and of packed A plus C: larger products go by chunks of columns and rows,
 * which bounds the memory (with the staging copy) at about 48 MiB.
 */
const B_FLOATS = 1 << 22;
const AC_FLOATS = 1 << 22;
/** Products with fewer rows than this and at most this many columns read B in place (see `run`). */
const IN_PLACE_MAX_ROWS = 256;
const IN_PLACE_MAX_COLS = 512;

/** The module's exports: `gemm` and the four packing functions, all taking byte addresses. */
interface GemmExports {
  gemm(
    ap: number,
    bp: number,
    cp: number,
    mPanels: number,
    nPanels: number,
    k: number,
    kc: number,
    mc: number,
    bPanel: number,
    bStep: number,
    ldc: number,
  ): void;
  packCopyA: Pack;
  packCopyB: Pack;
  packTransposeA: Pack;
  packTransposeB: Pack;
}
type Pack = (dst: number, src: number, lineBytes: number, panels: number, k: number) => void;

/** A compiled GEMM variant over the shared memory; get one from `wasmGemm()`. */
export class WasmGemm {
  constructor(
    /** Whether this variant multiplies-adds with f32x4.relaxed_madd. */
    readonly relaxed: boolean,
    /** The compiled module, which GEMM worker threads instantiate too. */
    readonly module: WebAssembly.Module,
    private readonly wasm: GemmExports,
  ) {}

  /**
   * One call of the module's `gemm` (byte addresses), split between the threads of the running kernel's pool
   * (gemm-threads.ts) when each part gets at least THREAD_MIN_MADDS multiply-adds: by A panels (rows) when A
   * is the larger operand, else by B panels (columns), so the operand every part reads whole is the smaller.
   */
  #gemm(
    ap: number,
    bp: number,
    cp: number,
    mPanels: number,
    nPanels: number,
    k: number,
    bPanel: number,
    bStep: number,
  ) {
    const ldc = nPanels * NR * 4;
    const threads = activeGemmThreads();
    const byRows = mPanels * MR >= nPanels * NR;
    const madds = mPanels * MR * nPanels * NR * k;
    const parts = threads
      ? Math.min(threads.ready() + 1, byRows ? mPanels : nPanels, Math.floor(madds / THREAD_MIN_MADDS))
      : 1;
    if (!threads || parts < 2) {
      this.wasm.gemm(ap, bp, cp, mPanels, nPanels, k, KC, MC_PANELS, bPanel, bStep, ldc);
      return;
    }
    const total = byRows ? mPanels : nPanels;
    const args: number[][] = [];
    for (let p = 0; p < parts; p++) {
      const [from, to] = [Math.floor((p * total) / parts), Math.floor(((p + 1) * total) / parts)];
      const part = byRows
        ? { a: ap + from * k * MR * 4, b: bp, c: cp + from * MR * ldc, m: to - from, n: nPanels }
        : { a: ap, b: bp + from * bPanel, c: cp + from * NR * 4, m: mPanels, n: to - from };
      args.push([part.a, part.b, part.c, part.m, part.n, k, KC, MC_PANELS, bPanel, bStep, ldc]);
    }
    threads.run(this.wasm.gemm, args);
  }

  /** Computes every product of `batch`; m, n, k and the batch must be non-empty. */
  run(batch: GemmBatch): void {
    const { m, n, k, aOffsets, bOffsets, cOffsets } = batch;
    const nChunk = Math.min(roundUp(n, NR), Math.max(NR, Math.floor(B_FLOATS / k / NR) * NR));
    const mChunk = Math.min(roundUp(m, MR), Math.max(MR, Math.floor(AC_FLOATS / (k + nChunk) / MR) * MR));
    const bAt = 0;
    // With few rows of A a packed B is used too little to repay packing it: B's rows are then read in place
    // when they are contiguous (the last panel of a line reads up to NR - 1 floats past it, into columns C
    // drops). Grouped products at D = F = 256 with 8, 64 and 128 rows an expert: 13 -> 19-23, 34 -> 36-39
    // and 40 -> 42-45 GFLOP/s; equal at 256 rows. With more rows, or wide rows, the packed panels win: rows of
    // B read in place are ldb apart, which for power-of-two widths maps a sliver onto few cache sets (1024^2:
    // 27 against 43 GFLOP/s packed). A B kept packed from an earlier product (packed-operands.ts) is read packed.
    const inPlace = batch.bColStride === 1 && m < IN_PLACE_MAX_ROWS && n <= IN_PLACE_MAX_COLS;
    const aAt = bAt + k * nChunk + NR * (nChunk + 1);
    const cAt = aAt + k * mChunk;
    const stageAt = cAt + mChunk * nChunk;
    const stageFloats = k * Math.max(nChunk, mChunk) + NR * (Math.max(k, nChunk, mChunk) + 1);
    let heap = wasmHeap(stageAt + stageFloats);
    const { wasm } = this;
    const packB = (at: number, bOff: number, cols: number, nPanels: number) => {
      const line = stage(heap, stageAt, batch.b, bOff, batch.bColStride, batch.bRowStride, cols, k);
      const pack = batch.bColStride === 1 ? wasm.packCopyB : wasm.packTransposeB;
      pack(at * 4, stageAt * 4, line * 4, nPanels, k);
    };
    // Offsets of the operands now ready whole, so a broadcast batch prepares a shared operand once; B is
    // ready at `bp`, packed or (`bPacked` false) read in place.
    let packedA = -1;
    let packedB = -1;
    let bp = bAt;
    let bPacked = !inPlace;
    for (let t = 0; t < aOffsets.length; t++) {
      for (let j0 = 0; j0 < n; j0 += nChunk) {
        const cols = Math.min(nChunk, n - j0);
        const nPanels = Math.ceil(cols / NR);
        const bOff = (bOffsets[t] as number) + j0 * batch.bColStride;
        if (cols < n || bOff !== packedB) {
          const kept =
            batch.bStored && k * cols >= KEEP_MIN_FLOATS
              ? keptOperand(
                  batch.b,
                  `${bOff} ${cols} ${k} ${batch.bRowStride} ${batch.bColStride}`,
                  k * nPanels * NR,
                )
              : null;
          if (kept) {
            heap = wasmHeap(stageAt + stageFloats);
            if (!kept.ready) packB(kept.at, bOff, cols, nPanels);
            [bp, bPacked] = [kept.at, true];
          } else {
            [bp, bPacked] = [bAt, !inPlace];
            if (inPlace) stage(heap, bAt, batch.b, bOff, 1, batch.bRowStride, cols, k);
            else packB(bAt, bOff, cols, nPanels);
          }
          packedB = cols < n ? -1 : bOff;
        }
        const [bPanel, bStep] = bPacked ? [k * NR * 4, NR * 4] : [NR * 4, cols * 4];
        for (let i0 = 0; i0 < m; i0 += mChunk) {
          const rows = Math.min(mChunk, m - i0);
          const mPanels = Math.ceil(rows / MR);
          const aOff = (aOffsets[t] as number) + i0 * batch.aRowStride;
          if (rows < m || aOff !== packedA) {
            const line = stage(heap, stageAt, batch.a, aOff, batch.aRowStride, batch.aColStride, rows, k);
            const pack = batch.aRowStride === 1 ? wasm.packCopyA : wasm.packTransposeA;
            pack(aAt * 4, stageAt * 4, line * 4, mPanels, k);
            packedA = rows < m ? -1 : aOff;
          }
          this.#gemm(aAt * 4, bp * 4, cAt * 4, mPanels, nPanels, k, bPanel, bStep);
          const cOff = (cOffsets[t] as number) + i0 * batch.ldc + j0;
          copyLines(batch.c, cOff, batch.ldc, heap, cAt, nPanels * NR, rows, cols);
        }
      }
    }
  }
}

/**
 * Fewest multiply-adds a part of a product split between threads gets (about 50 µs of one core): below this
 * posting the part costs more than it saves.
 */
const THREAD_MIN_MADDS = 1 << 20;

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}

/**
 * Copies an operand of `lanes` panel lanes (rows of A, columns of B) by `k` steps into `heap` at `at` as
 * compact lines and zeroes what the packing functions may read past them; returns the line length. When the
 * lanes are contiguous (`laneStride` 1) each line is one step of k, for packCopy; otherwise each line is one
 * lane, for packTranspose.
 */
function stage(
  heap: Float32Array,
  at: number,
  src: Float32Array,
  off: number,
  laneStride: number,
  kStride: number,
  lanes: number,
  k: number,
): number {
  const [lines, len, ld] = laneStride === 1 ? [k, lanes, kStride] : [lanes, k, laneStride];
  copyLines(heap, at, len, src, off, ld, lines, len);
  heap.fill(0, at + lines * len, at + lines * len + NR * (len + 1));
  return len;
}

/**
 * Compiles the GEMM variant using relaxed SIMD (`relaxed: true`) or plain SIMD128; null where this engine
 * rejects it (no WebAssembly, no SIMD, or no relaxed SIMD). Every call compiles: use `wasmGemm()`.
 */
export function compileWasmGemm({ relaxed }: { relaxed: boolean }): WasmGemm | null {
  if (typeof WebAssembly !== 'object') return null;
  const bytes = gemmModuleBytes({ mr: MR, nr: NR, relaxed, sharedMaxPages: sharedMaxPages() });
  if (!WebAssembly.validate(bytes)) return null;
  const module = new WebAssembly.Module(bytes);
  const instance = new WebAssembly.Instance(module, { env: { memory: wasmMemory() } });
  return new WasmGemm(relaxed, module, instance.exports as unknown as GemmExports);
}

let best: WasmGemm | null | undefined;
let bestMemory: WebAssembly.Memory | undefined;

/**
 * The fastest GEMM this engine runs, compiled on first use and again if the memory was replaced by a shared
 * one: relaxed SIMD, else plain SIMD128, else null (the caller uses the JavaScript GEMM).
 */
export function wasmGemm(): WasmGemm | null {
  if (best === undefined || bestMemory !== wasmMemory()) {
    best = compileWasmGemm({ relaxed: true }) ?? compileWasmGemm({ relaxed: false });
    bestMemory = wasmMemory();
  }
  return best;
}
