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
