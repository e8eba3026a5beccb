// Shape letters: D model width, F expert hidden width, E experts.
import {
  type FloatDType,
  fromBf16Bits,
  fromF16Bits,
  SwitchyardError,
  toBf16Bits,
  toF16Bits,
} from '@switchyard/tensor';
import {
  checkExpertIndex,
  checkHostExpert,
  checkLayerInfo,
  dtypeBytes,
  type ExpertLayerInfo,
  type ExpertStore,
  findLayer,
  type HostExpert,
  type StackName,
} from './expert-store.js';

const OP = 'SafetensorsExpertStore';
const FORMAT = 'switchyard-experts';
const MAX_HEADER_BYTES = 100_000_000;
const SAFETENSORS_DTYPE: Record<FloatDType, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type Projection = 'w1' | 'w2' | 'w3';

/** The tensors of one expert in the file: name and shape of each projection. */
function projections(
  info: ExpertLayerInfo,
  expert: number,
): { w: Projection; name: string; shape: number[] }[] {
  const [d, f] = [info.dModel, info.dHidden];
  const names: Projection[] = info.gated ? ['w1', 'w2', 'w3'] : ['w1', 'w2'];
  return names.map((w) => ({
    w,
    name: `${info.stack}.blocks.${info.layer}.ffn.experts.${expert}.${w}`,
    shape: w === 'w2' ? [f, d] : [d, f],
  }));
}

function corrupt(detail: string): SwitchyardError {
  return new SwitchyardError('CORRUPT_FILE', OP, detail);
}

/** Little-endian bytes of `values` in `dtype` (f16/bf16 rounded to nearest even). */
function encode(values: Float32Array, dtype: FloatDType): Uint8Array {
  if (dtype === 'f32') {
    if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
    const out = new DataView(new ArrayBuffer(values.length * 4));
    for (let i = 0; i < values.length; i++) out.setFloat32(i * 4, values[i] as number, true);
    return new Uint8Array(out.buffer);
  }
  const to = dtype === 'f16' ? toF16Bits : toBf16Bits;
  const out = new DataView(new ArrayBuffer(values.length * 2));
  for (let i = 0; i < values.length; i++) out.setUint16(i * 2, to(values[i] as number), true);
  return new Uint8Array(out.buffer);
}

/** f32 values of little-endian `bytes` in `dtype`. */
function decode(bytes: ArrayBuffer, dtype: FloatDType): Float32Array {
  const view = new DataView(bytes);
  if (dtype === 'f32') {
    if (LITTLE_ENDIAN) return new Float32Array(bytes);
    return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
  }
  const from = dtype === 'f16' ? fromF16Bits : fromBf16Bits;
  return Float32Array.from({ length: bytes.byteLength / 2 }, (_, i) => from(view.getUint16(i * 2, true)));
}

/**
 * Writes every expert of `store` in the safetensors format, one chunk at a time through `write` (so a
 * model larger than memory streams through): one tensor per projection of each expert, named
 * `decoder.blocks.3.ffn.experts.5.w1`, in the layers' dtypes, with the layer layout in the metadata.
 * Returns the bytes written. Open the result with `SafetensorsExpertStore.open`.
 *
 * @example
 * ```ts
 * // Browser: into the origin-private file system.
 * const file = await (await navigator.storage.getDirectory()).getFileHandle('experts.safetensors', { create: true });
 * const writable = await file.createWritable();
 * await writeExperts(store, (chunk) => writable.write(chunk));
 * await writable.close();
 * ```
 */
export async function writeExperts(
  store: ExpertStore,
  write: (chunk: Uint8Array) => Promise<unknown> | unknown,
): Promise<number> {
  if (typeof write !== 'function') {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'writeExperts',
      'write must be a function taking a Uint8Array chunk',
    );
  }
  const header: Record<string, unknown> = {
    __metadata__: { format: FORMAT, layers: JSON.stringify(store.layers) },
  };
  let offset = 0;
  for (const info of store.layers) {
    for (let e = 0; e < info.numExperts; e++) {
      for (const p of projections(info, e)) {
        const bytes = info.dModel * info.dHidden * dtypeBytes(info.dtype);
        header[p.name] = {
          dtype: SAFETENSORS_DTYPE[info.dtype],
          shape: p.shape,
          data_offsets: [offset, offset + bytes],
        };
        offset += bytes;
      }
    }
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const spaced = new Uint8Array(padded).fill(0x20);
    spaced.set(json);
    json = spaced;
  }
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(json.length), true);
  await write(length);
  await write(json);
  for (const info of store.layers) {
    for (let e = 0; e < info.numExperts; e++) {
      const weights = checkHostExpert(info, await store.read(info.stack, info.layer, e), 'writeExperts');
      for (const p of projections(info, e)) await write(encode(weights[p.w] as Float32Array, info.dtype));
    }
  }
  return 8 + json.length + offset;
}

/**
 * Writes every expert of `store` to a safetensors file at `path` (Node), streaming one expert at a time.
 * Returns the bytes written.
 */
export async function saveExperts(path: string, store: ExpertStore): Promise<number> {
  const { open } = await import('node:fs/promises');
  const file = await open(path, 'w');
  try {
    return await writeExperts(store, (chunk) => file.write(chunk));
  } finally {
    await file.close();
  }
}

interface Located {
  begin: number;
  end: number;
}

/** Range reads of a file's bytes: a Blob's slices, or a Node file handle's positioned reads. */
interface RangeReader {
  readonly size: number;
  read(begin: number, end: number): Promise<ArrayBuffer>;
  close(): Promise<void>;
}

function blobReader(blob: Blob): RangeReader {
  return {
    size: blob.size,
    read: (begin, end) => blob.slice(begin, end).arrayBuffer(),
    close: async () => {},
  };
}

async function fileReader(path: string): Promise<RangeReader> {
  const { open } = await import('node:fs/promises');
  const file = await open(path, 'r');
  const { size } = await file.stat();
  return {
    size,
    read: async (begin, end) => {
      const bytes = new Uint8Array(end - begin);
      const { bytesRead } = await file.read(bytes, 0, bytes.length, begin);
      if (bytesRead !== bytes.length)
        throw corrupt(`the file ended ${bytes.length - bytesRead} bytes early (it changed after opening?)`);
      return bytes.buffer;
    },
    close: () => file.close(),
  };
}

/**
 * Experts in a safetensors file written by `writeExperts`/`saveExperts`, read one expert at a time with
 * range reads: from a path (Node, a file handle's positioned reads) or from any `Blob` (a browser `File`, an OPFS file's
 * `getFile()`, a Blob kept in IndexedDB). The header is bounds-checked before anything else is read: a
 * malformed length, header, layout or tensor entry is a CORRUPT_FILE error naming it.
 *
 * @example
 * ```ts
 * await saveExperts('/tmp/experts.safetensors', await HostExpertStore.fromModel(model));
 * const store = await SafetensorsExpertStore.open('/tmp/experts.safetensors');
 * const offload = await offloadExperts(model, { store, budgetBytes: 4 * 2 ** 20 });
 * ```
 */
export class SafetensorsExpertStore implements ExpertStore {
  readonly layers: readonly ExpertLayerInfo[];
  readonly #reader: RangeReader;
  readonly #dataStart: number;
  readonly #tensors: Map<string, Located>;
  #closed = false;

  private constructor(
    reader: RangeReader,
    layers: ExpertLayerInfo[],
    dataStart: number,
    tensors: Map<string, Located>,
  ) {
    this.#reader = reader;
    this.layers = layers;
    this.#dataStart = dataStart;
    this.#tensors = tensors;
  }

  /** Opens the file at `source` (a path, in Node: positioned reads of a file handle) or the bytes of a `Blob`. */
  static async open(source: string | Blob): Promise<SafetensorsExpertStore> {
    let reader: RangeReader;
    if (typeof source === 'string') reader = await fileReader(source);
    else if (source instanceof Blob) reader = blobReader(source);
    else
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        OP,
        `source must be a path or a Blob, got ${String(source)}`,
      );
    try {
      const { layers, dataStart, tensors } = await readLayout(reader);
      return new SafetensorsExpertStore(reader, layers, dataStart, tensors);
    } catch (err) {
      await reader.close();
      throw err;
    }
  }

  async read(stack: StackName, layer: number, expert: number): Promise<HostExpert> {
    if (this.#closed) throw new SwitchyardError('INVALID_ARGUMENT', OP, 'the store was closed');
    const info = findLayer(this, stack, layer, OP);
    checkExpertIndex(info, expert, OP);
    const located = projections(info, expert).map((p) => this.#tensors.get(p.name) as Located);
    const begin = Math.min(...located.map((at) => at.begin));
    const end = Math.max(...located.map((at) => at.end));
    const contiguous = located.reduce((n, at) => n + at.end - at.begin, 0) === end - begin;
    const read = (from: number, to: number) =>
      this.#reader.read(this.#dataStart + from, this.#dataStart + to);
    let parts: Float32Array[];
    if (contiguous) {
      // One range read for the whole expert (writeExperts lays its projections out back to back).
      const bytes = await read(begin, end);
      parts = located.map((at) => decode(bytes.slice(at.begin - begin, at.end - begin), info.dtype));
    } else {
      parts = await Promise.all(located.map(async (at) => decode(await read(at.begin, at.end), info.dtype)));
    }
    return { w1: parts[0] as Float32Array, w2: parts[1] as Float32Array, w3: parts[2] ?? null };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reader.close();
  }
}

/** Reads and bounds-checks the header: its length against the file, then the layout and every tensor entry. */
async function readLayout(
  reader: RangeReader,
): Promise<{ layers: ExpertLayerInfo[]; dataStart: number; tensors: Map<string, Located> }> {
  if (reader.size < 8)
    throw corrupt(`the file is ${reader.size} bytes, too short for the 8-byte header length`);
  const declared = new DataView(await reader.read(0, 8)).getBigUint64(0, true);
  if (declared > BigInt(Math.min(MAX_HEADER_BYTES, reader.size - 8))) {
    throw corrupt(
      `the header length ${declared} runs past the end of the file (${reader.size} bytes) or exceeds ${MAX_HEADER_BYTES}`,
    );
  }
  const headerBytes = Number(declared);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await reader.read(8, 8 + headerBytes));
    header = JSON.parse(text);
  } catch (err) {
    throw corrupt(
      `the header is not UTF-8 JSON (${String(err instanceof Error ? err.message : err).slice(0, 120)})`,
    );
  }
  const dataStart = 8 + headerBytes;
  return { ...readHeader(header, reader.size - dataStart), dataStart };
}

/** Validates the header against the data section's size: layers from the metadata, every tensor in bounds. */
function readHeader(
  header: unknown,
  dataBytes: number,
): { layers: ExpertLayerInfo[]; tensors: Map<string, Located> } {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(header)) throw corrupt('the header must be a JSON object');
  const meta = header.__metadata__;
  if (!isObject(meta) || meta.format !== FORMAT || typeof meta.layers !== 'string') {
    throw corrupt(
      `the metadata must hold format '${FORMAT}' and the layer layout (write the file with writeExperts)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(meta.layers);
  } catch {
    throw corrupt('the layer layout in the metadata is not JSON');
  }
  if (!Array.isArray(raw)) throw corrupt('the layer layout in the metadata must be an array');
  const layers = raw.map((l) => checkLayerInfo(l, OP, 'CORRUPT_FILE'));
  const seen = new Set<string>();
  const tensors = new Map<string, Located>();
  for (const info of layers) {
    const id = `${info.stack}.${info.layer}`;
    if (seen.has(id)) throw corrupt(`${info.stack} block ${info.layer} appears twice in the layer layout`);
    seen.add(id);
    const bytes = info.dModel * info.dHidden * dtypeBytes(info.dtype);
    for (let e = 0; e < info.numExperts; e++) {
      for (const p of projections(info, e)) {
        const entry = header[p.name];
        if (!isObject(entry)) throw corrupt(`tensor '${p.name}' is missing`);
        const offsets = entry.data_offsets;
        const [begin, end] = Array.isArray(offsets) ? offsets : [];
        const shape = entry.shape;
        if (
          entry.dtype !== SAFETENSORS_DTYPE[info.dtype] ||
          !Array.isArray(shape) ||
          shape.join() !== p.shape.join()
        ) {
          throw corrupt(
            `tensor '${p.name}' must be ${SAFETENSORS_DTYPE[info.dtype]} [${p.shape.join(', ')}], got ${String(entry.dtype)} ${JSON.stringify(shape)}`,
          );
        }
        if (
          !Number.isSafeInteger(begin) ||
          !Number.isSafeInteger(end) ||
          begin < 0 ||
          end > dataBytes ||
          end - begin !== bytes
        ) {
          throw corrupt(
            `tensor '${p.name}' has data_offsets ${JSON.stringify(offsets)}; it needs ${bytes} bytes within the ${dataBytes}-byte data section`,
          );
        }
        tensors.set(p.name, { begin, end });
      }
    }
  }
  return { layers, tensors };
}
