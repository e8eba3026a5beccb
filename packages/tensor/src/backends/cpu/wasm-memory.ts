// The one WebAssembly.Memory every CPU kernel module imports as `env.memory`. Kernels run one at a time on
// the calling thread, so each uses the memory from address 0 as scratch for the duration of its call.

const PAGE = 65536;

let memory: WebAssembly.Memory | undefined;
let view = new Float32Array(0);

/** The shared memory, created on first use. */
export function wasmMemory(): WebAssembly.Memory {
  memory ??= new WebAssembly.Memory({ initial: 1 });
  return memory;
}

/** An f32 view of the shared memory, grown to hold at least `floats` floats (a grow detaches older views). */
export function wasmHeap(floats: number): Float32Array {
  const mem = wasmMemory();
  const bytes = floats * 4;
  if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / PAGE));
  if (view.buffer !== mem.buffer) view = new Float32Array(mem.buffer);
  return view;
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
