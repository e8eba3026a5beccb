// The one WebAssembly.Memory every CPU kernel module imports as `env.memory`. Kernels run one at a time on
// the calling thread, so each uses the memory from address 0 as scratch for the duration of its call. Above
// the highest scratch asked for so far lies the kept region: data that outlives a call (packed GEMM operands,
// packed-operands.ts), allocated upwards and dropped whole, never freed piecemeal. A backend with GEMM worker
// threads (gemm-threads.ts) replaces it by a shared memory, which they compute in too.

const PAGE = 65536;
const GROW_MAX_BYTES = 64 << 20;
/** The most pages a shared memory may grow to (4 GiB, the wasm32 limit); it reserves address space only. */
const SHARED_MAX_PAGES = 65536;

let memory: WebAssembly.Memory | undefined;
let shared = false;
let view = new Float32Array(0);
/** Floats of the largest scratch asked for. */
let scratchFloats = 0;
/** The kept region, [keptStart, keptEnd) in floats; empty when equal. */
let keptStart = 0;
let keptEnd = 0;
/** Counts the drops of the kept region: what was kept under an older generation is gone. */
let generation = 0;

/** The kernels' memory, created on first use (unshared until `shareWasmMemory`). */
export function wasmMemory(): WebAssembly.Memory {
  memory ??= new WebAssembly.Memory({ initial: 1 });
  return memory;
}

/**
 * The maximum a module must declare to import `wasmMemory()` as shared (a shared memory must be imported as
 * shared, with a maximum), or undefined while the memory is not shared.
 */
export function sharedMaxPages(): number | undefined {
  return shared ? SHARED_MAX_PAGES : undefined;
}

/**
 * Replaces the memory by a shared one, for GEMM worker threads, once per thread: what was kept in the old one
 * is dropped, and `wasmGemm()` and `wasmVector()` recompile against the new one. False, with nothing changed,
 * where the engine cannot share memory (no SharedArrayBuffer). Not the default because copies into a shared
 * memory are slower: TypedArray.set ran 1.7x slower at 64 KiB and 3x at 4 MiB (Node 20, the bench machine),
 * which cost single-threaded decoding (many small products) about a tenth.
 */
export function shareWasmMemory(): boolean {
  if (shared) return true;
  try {
    const pages = memory ? memory.buffer.byteLength / PAGE : 1;
    const candidate = new WebAssembly.Memory({ initial: pages, maximum: SHARED_MAX_PAGES, shared: true });
    if (!(candidate.buffer instanceof SharedArrayBuffer)) return false;
    [memory, shared] = [candidate, true];
  } catch {
    // No SharedArrayBuffer: a page that is not cross-origin isolated, or an engine without threads.
    return false;
  }
  keptStart = keptEnd = scratchFloats;
  generation++;
  return true;
}

/**
 * An f32 view of the memory, grown to hold at least `floats` floats. A grow leaves older views detached (or,
 * in a shared memory, short of the new end): take a new view after anything that may grow the memory.
 */
export function wasmHeap(floats: number): Float32Array {
  if (floats > scratchFloats) {
    scratchFloats = floats;
    if (floats > keptStart) dropKept();
  }
  return grown(floats);
}

/**
 * A view of the memory grown to at least `floats` floats. It grows by at least a quarter (at most 64 MiB) at a
 * time: one grow took 0.23 ms at 100 MiB (Node 20, the 2-core bench machine), and keeping a grouped product's
 * experts one by one grew it hundreds of times. Pages never written cost no physical memory.
 */
function grown(floats: number): Float32Array {
  const mem = wasmMemory();
  const have = mem.buffer.byteLength;
  const bytes = floats * 4;
  if (have < bytes)
    mem.grow(Math.ceil((Math.max(bytes, have + Math.min(have / 4, GROW_MAX_BYTES)) - have) / PAGE));
  if (view.buffer !== mem.buffer) view = new Float32Array(mem.buffer);
  return view;
}

/**
 * Reserves `floats` floats in the kept region and returns their address (in floats), or null when the memory
 * cannot grow that far. The address stays valid while `keptGeneration()` is unchanged; views taken before
 * this call may be detached (take a new one with `wasmHeap`).
 */
export function wasmKeep(floats: number): number | null {
  if (keptEnd === keptStart) keptStart = keptEnd = scratchFloats;
  try {
    grown(keptEnd + floats);
  } catch {
    return null;
  }
  const at = keptEnd;
  keptEnd += floats;
  return at;
}

/** Floats reserved in the kept region. */
export function keptFloats(): number {
  return keptEnd - keptStart;
}

/** The kept region's generation: it changes whenever the region is dropped. */
export function keptGeneration(): number {
  return generation;
}

/** Drops everything kept (the memory stays grown: a WebAssembly memory never shrinks). */
export function dropKept(): void {
  if (keptEnd === keptStart) return;
  keptStart = keptEnd = scratchFloats;
  generation++;
}

/**
 * Copies `lines` runs of `len` floats from `src` (runs `lds` apart) to `dst` (runs `ldd` apart): one
 * TypedArray.set when the runs form one block, otherwise run by run, element by element for runs shorter
 * than 64 floats (a subarray costs more than copying those).
 */
export function copyLines(
  dst: Float32Array,
  dOff: number,
  ldd: number,
  src: Float32Array,
  sOff: number,
  lds: number,
  lines: number,
  len: number,
): void {
  const block = (ldd === len && lds === len) || lines === 1;
  if (block && lines * len >= 64) {
    dst.set(src.subarray(sOff, sOff + lines * len), dOff);
    return;
  }
  for (let l = 0; l < lines; l++) {
    const s = sOff + l * lds;
    const d = dOff + l * ldd;
    if (len >= 64) dst.set(src.subarray(s, s + len), d);
    else for (let j = 0; j < len; j++) dst[d + j] = src[s + j] as number;
  }
}
