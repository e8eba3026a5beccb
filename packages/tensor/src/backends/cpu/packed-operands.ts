// Packed B operands kept in the shared WebAssembly memory between products. A weight matrix multiplied again
// and again (every step of an inference loop, every forward of an evaluation) is otherwise copied into the
// memory and packed into panels on every product, which dominates products with few rows: 16 products of
// [1, 1024] x [1024, 1024] took 17-19 ms packing B each time and 7-9 ms with B kept, [8, 512] x [512, 2048]
// 15 and 8 ms (the 2-core bench machine). A grouped product of 256 experts of 256 x 256 with 64 rows each took
// 66 against 58 ms alone, but only ~2% less inside a MoE layer, where reading the 64 MiB of weights from
// memory dominates either way. A CPU storage never changes while it lives (kernels write fresh outputs;
// `assign` swaps storages), so its packed panels stay right until the array is recycled, which forgets them.

import { dropKept, keptFloats, keptGeneration, wasmKeep } from './wasm-memory.js';

/** The most floats kept packed by default (256 MiB). */
const DEFAULT_BUDGET_FLOATS = (256 << 20) / 4;
let budgetFloats = DEFAULT_BUDGET_FLOATS;
/** Operands smaller than this (64 KiB) pack quickly enough that keeping them is not worth the bookkeeping. */
export const KEEP_MIN_FLOATS = 1 << 14;
/** Dead floats (16 MiB) the region may hold before it is dropped early (see `keptOperand`). */
const DEAD_MAX_FLOATS = 1 << 22;

/** Where an operand's panels are kept; `at` is -1 while the operand has been seen once only. */
interface Kept {
  at: number;
  floats: number;
  generation: number;
}

const kept = new WeakMap<Float32Array, Map<string, Kept>>();
/** Floats of entries of generation `liveGeneration` whose array has not been recycled. */
let liveFloats = 0;
let liveGeneration = 0;

/** The live floats of the current generation (the region may have been dropped since the last call). */
function liveNow(): number {
  if (liveGeneration !== keptGeneration()) {
    liveGeneration = keptGeneration();
    liveFloats = 0;
  }
  return liveFloats;
}

function live(entry: Kept): boolean {
  return entry.at >= 0 && entry.generation === keptGeneration();
}

/**
 * Where the packed panels (`floats` floats) of the operand `key` of `array` are kept: `ready` when they hold
 * it already, otherwise the caller packs them there now. Null while the operand has been seen once only (an
 * operand used once, such as a weight that changes every training step, is never kept) and when the budget
 * is spent: the caller then packs into its scratch as usual. The region is dropped and refilled when it is
 * full and at most half of it is live (the rest belonged to recycled arrays; otherwise nothing more is kept),
 * and when its dead part outgrows both its live part and DEAD_MAX_FLOATS: operands that come and go (experts
 * offloaded and brought back) then reuse the same pages instead of writing fresh ones up to the budget, each
 * first write of a page costing a page fault.
 */
export function keptOperand(
  array: Float32Array,
  key: string,
  floats: number,
): { at: number; ready: boolean } | null {
  let entries = kept.get(array);
  if (!entries) {
    entries = new Map();
    kept.set(array, entries);
  }
  const entry = entries.get(key);
  if (!entry) {
    entries.set(key, { at: -1, floats, generation: 0 });
    return null;
  }
  if (live(entry)) return { at: entry.at, ready: true };
  if (floats > budgetFloats) return null;
  const used = keptFloats();
  if (used + floats > budgetFloats) {
    if (liveNow() > budgetFloats / 2) return null;
    dropKept();
  } else if (used - liveNow() > Math.max(liveNow(), DEAD_MAX_FLOATS)) dropKept();
  const at = wasmKeep(floats);
  if (at === null) return null;
  entries.set(key, { at, floats, generation: keptGeneration() });
  liveFloats = liveNow() + floats;
  return { at, ready: false };
}

/** Forgets every operand kept for `array` (it is about to be reused for other values). */
export function forgetKept(array: Float32Array): void {
  const entries = kept.get(array);
  if (!entries) return;
  for (const entry of entries.values()) if (live(entry)) liveFloats = liveNow() - entry.floats;
  kept.delete(array);
}

/**
 * Sets the most bytes kept packed (256 MiB by default) and drops what is kept; returns the previous budget.
 * Internal: the tests shrink it to exercise a full region.
 */
export function setKeptBudget(bytes: number): number {
  const previous = budgetFloats * 4;
  budgetFloats = Math.floor(bytes / 4);
  clearKept();
  return previous;
}

/** Drops every kept operand. */
export function clearKept(): void {
  dropKept();
}

/** Bytes of the kept region (packed operands, live or not yet dropped). */
export function keptBytes(): number {
  return keptFloats() * 4;
}
