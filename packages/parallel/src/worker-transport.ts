// Shared-memory transport between worker threads: one single-producer single-consumer byte ring per ordered
// pair of ranks, a doorbell word per rank to sleep on (Atomics.wait) and wake (Atomics.notify), and a failure
// word every waiting rank checks, so one rank's death stops the others instead of leaving them waiting.
import { type AnyHostArray, DTYPES, type DType, SwitchyardError } from '@switchyard/tensor';
import type { HostMessage } from './message-communicator.js';

/** Why a cluster failed, as stored in shared memory (0: running). */
export const FAILURE = { exited: 1, threw: 2, timedOut: 3, stopped: 4 } as const;
export type FailureReason = keyof typeof FAILURE;

const STATE = 0; // 0 running, else 1 + the failed rank
const REASON = 1;
const DETAIL = 2;
const BELLS = 4;
const SLICE_MS = 50;

/** The shared buffers of one cluster, made by the launcher and handed to every worker. */
export interface SharedLayout {
  readonly size: number;
  readonly channelBytes: number;
  readonly control: SharedArrayBuffer;
  readonly data: SharedArrayBuffer;
}

/** Allocates the control words and the N·N rings of `channelBytes` (a power of two) each. */
export function allocateLayout(size: number, channelBytes: number): SharedLayout {
  const words = BELLS + size + 2 * size * size;
  return {
    size,
    channelBytes,
    control: new SharedArrayBuffer(words * 4),
    data: new SharedArrayBuffer(size * size * channelBytes),
  };
}

/** Marks the cluster failed (first failure wins) and wakes every rank. Usable from any thread. */
export function markFailed(layout: SharedLayout, rank: number, reason: FailureReason, detail = 0): void {
  const control = new Int32Array(layout.control);
  if (Atomics.compareExchange(control, STATE, 0, rank + 1) === 0) {
    Atomics.store(control, REASON, FAILURE[reason]);
    Atomics.store(control, DETAIL, detail);
  }
  for (let r = 0; r < layout.size; r++) {
    Atomics.add(control, BELLS + r, 1);
    Atomics.notify(control, BELLS + r);
  }
}

/** The recorded failure, or null while the cluster runs. */
export function readFailure(
  layout: SharedLayout,
): { rank: number; reason: FailureReason; detail: number } | null {
  const control = new Int32Array(layout.control);
  const state = Atomics.load(control, STATE);
  if (state === 0) return null;
  const code = Atomics.load(control, REASON);
  const reason = (Object.keys(FAILURE) as FailureReason[]).find((k) => FAILURE[k] === code) ?? 'stopped';
  return { rank: state - 1, reason, detail: Atomics.load(control, DETAIL) };
}

/** A failure as the sentence every rank's error carries. */
export function describeFailure(
  f: { rank: number; reason: FailureReason; detail: number },
  size: number,
): string {
  const who = `rank ${f.rank} of ${size}`;
  if (f.reason === 'exited') return `${who} exited (code ${f.detail}) before finishing`;
  if (f.reason === 'threw') return `${who} threw an error`;
  if (f.reason === 'timedOut') return `rank ${f.detail} of ${size} timed out waiting in a collective`;
  return `the cluster was stopped (${who})`;
}

interface Reader {
  phase: 'length' | 'header' | 'key' | 'payload';
  buffer: Uint8Array;
  filled: number;
  header: Int32Array | null;
  key: string;
}

interface Incoming {
  key: string;
  message: HostMessage;
}

const pad4 = (n: number) => (n + 3) & ~3;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function viewOf(dtype: DType, buffer: ArrayBuffer, bytes: number): AnyHostArray {
  if (dtype === 'i32') return new Int32Array(buffer, 0, bytes / 4);
  if (dtype === 'bool') return new Uint8Array(buffer, 0, bytes);
  return new Float32Array(buffer, 0, bytes / 4);
}

/**
 * One rank's end of the shared-memory transport. `exchange` sends one message to every member and receives
 * one from each, matched by key (group id and sequence number), so collectives of different groups may
 * interleave. It blocks the worker thread (Atomics.wait in slices) until done, a rank fails or `timeoutMs`
 * passes without completion.
 */
export class WorkerTransport {
  readonly rank: number;
  readonly size: number;
  readonly timeoutMs: number;
  readonly #layout: SharedLayout;
  readonly #control: Int32Array;
  readonly #data: Uint8Array;
  readonly #readers: Reader[];
  readonly #stash: Incoming[][];

  constructor(layout: SharedLayout, rank: number, timeoutMs: number) {
    this.rank = rank;
    this.size = layout.size;
    this.timeoutMs = timeoutMs;
    this.#layout = layout;
    this.#control = new Int32Array(layout.control);
    this.#data = new Uint8Array(layout.data);
    this.#readers = Array.from({ length: layout.size }, () => ({
      phase: 'length' as const,
      buffer: new Uint8Array(4),
      filled: 0,
      header: null,
      key: '',
    }));
    this.#stash = Array.from({ length: layout.size }, () => []);
  }

  /** Marks the cluster failed because of this rank. */
  fail(reason: FailureReason, detail = 0): void {
    markFailed(this.#layout, this.rank, reason, detail);
  }

  /** Sends `messages[i]` to world rank `members[i]`, returns the message each member sent with `key`. */
  exchange(
    op: string,
    key: string,
    members: readonly number[],
    messages: readonly HostMessage[],
  ): HostMessage[] {
    const writes = members.map((dest, i) =>
      dest === this.rank ? [] : this.#encode(key, messages[i] as HostMessage),
    );
    const received: (HostMessage | null)[] = members.map((src, i) =>
      src === this.rank
        ? { ...(messages[i] as HostMessage), data: (messages[i] as HostMessage).data.slice() }
        : null,
    );
    const start = Date.now();
    for (;;) {
      const bell = Atomics.load(this.#control, BELLS + this.rank);
      let progress = false;
      members.forEach((dest, i) => {
        if (this.#write(dest, writes[i] as Uint8Array[])) progress = true;
      });
      for (let src = 0; src < this.size; src++) if (src !== this.rank && this.#read(src)) progress = true;
      members.forEach((src, i) => {
        if (received[i]) return;
        const stash = this.#stash[src] as Incoming[];
        const at = stash.findIndex((m) => m.key === key);
        if (at >= 0) received[i] = (stash.splice(at, 1)[0] as Incoming).message;
      });
      if (received.every((m) => m !== null) && writes.every((w) => w.length === 0))
        return received as HostMessage[];
      const failure = readFailure(this.#layout);
      if (failure) {
        throw new SwitchyardError(
          'BACKEND_UNAVAILABLE',
          op,
          `${describeFailure(failure, this.size)}; giving up`,
        );
      }
      if (progress) continue;
      const left = this.timeoutMs - (Date.now() - start);
      if (left <= 0) {
        this.fail('timedOut', this.rank);
        const waiting = members.filter((_, i) => received[i] === null);
        throw new SwitchyardError(
          'BACKEND_UNAVAILABLE',
          op,
          `rank ${this.rank} of ${this.size} timed out after ${this.timeoutMs} ms waiting for rank(s) ${waiting.join(', ')}`,
        );
      }
      Atomics.wait(this.#control, BELLS + this.rank, bell, Math.min(left, SLICE_MS));
    }
  }

  #encode(key: string, m: HostMessage): Uint8Array[] {
    const code = DTYPES.indexOf(m.dtype);
    const keyBytes = textEncoder.encode(key);
    const payload = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    const header = Int32Array.of(
      5 + m.shape.length,
      keyBytes.length,
      code,
      m.shape.length,
      payload.length,
      ...m.shape,
    );
    const keyPadded = new Uint8Array(pad4(keyBytes.length));
    keyPadded.set(keyBytes);
    const chunks = [new Uint8Array(header.buffer), keyPadded, payload];
    const tail = pad4(payload.length) - payload.length;
    if (tail > 0) chunks.push(new Uint8Array(tail));
    return chunks.filter((c) => c.length > 0);
  }

  /** Writes what fits of `chunks` into the ring to `dest` (consuming them); true when bytes moved. */
  #write(dest: number, chunks: Uint8Array[]): boolean {
    if (chunks.length === 0) return false;
    const cap = this.#layout.channelBytes;
    const channel = this.rank * this.size + dest;
    const w = BELLS + this.size + 2 * channel;
    const written = Atomics.load(this.#control, w);
    const read = Atomics.load(this.#control, w + 1);
    let free = cap - ((written - read) | 0);
    let cursor = written;
    const base = channel * cap;
    while (free > 0 && chunks.length > 0) {
      const chunk = chunks[0] as Uint8Array;
      const n = Math.min(free, chunk.length);
      const at = cursor & (cap - 1);
      const first = Math.min(n, cap - at);
      this.#data.set(chunk.subarray(0, first), base + at);
      if (n > first) this.#data.set(chunk.subarray(first, n), base);
      cursor = (cursor + n) | 0;
      free -= n;
      if (n === chunk.length) chunks.shift();
      else chunks[0] = chunk.subarray(n);
    }
    if (cursor === written) return false;
    Atomics.store(this.#control, w, cursor);
    Atomics.add(this.#control, BELLS + dest, 1);
    Atomics.notify(this.#control, BELLS + dest);
    return true;
  }

  /** Reads what is available from `src`, completing messages into the stash; true when bytes moved. */
  #read(src: number): boolean {
    const cap = this.#layout.channelBytes;
    const channel = src * this.size + this.rank;
    const w = BELLS + this.size + 2 * channel;
    const read = Atomics.load(this.#control, w + 1);
    const written = Atomics.load(this.#control, w);
    let available = (written - read) | 0;
    if (available === 0) return false;
    let cursor = read;
    const base = channel * cap;
    const reader = this.#readers[src] as Reader;
    while (available > 0) {
      const need = reader.buffer.length - reader.filled;
      const n = Math.min(need, available);
      const at = cursor & (cap - 1);
      const first = Math.min(n, cap - at);
      reader.buffer.set(this.#data.subarray(base + at, base + at + first), reader.filled);
      if (n > first) reader.buffer.set(this.#data.subarray(base, base + n - first), reader.filled + first);
      reader.filled += n;
      cursor = (cursor + n) | 0;
      available -= n;
      if (reader.filled === reader.buffer.length) this.#advance(src, reader);
    }
    Atomics.store(this.#control, w + 1, cursor);
    Atomics.add(this.#control, BELLS + src, 1);
    Atomics.notify(this.#control, BELLS + src);
    return true;
  }

  /** Moves a reader to its next phase once its buffer is full. */
  #advance(src: number, reader: Reader): void {
    const next = (phase: Reader['phase'], bytes: number) => {
      reader.phase = phase;
      reader.buffer = new Uint8Array(bytes);
      reader.filled = 0;
    };
    if (reader.phase === 'length') {
      const words = new Int32Array(reader.buffer.buffer)[0] as number;
      next('header', (words - 1) * 4);
    } else if (reader.phase === 'header') {
      reader.header = new Int32Array(reader.buffer.buffer);
      next('key', pad4(reader.header[0] as number));
    } else if (reader.phase === 'key') {
      const header = reader.header as Int32Array;
      reader.key = textDecoder.decode(reader.buffer.subarray(0, header[0] as number));
      next('payload', pad4(header[3] as number));
    } else {
      const header = reader.header as Int32Array;
      const dtype = DTYPES[header[1] as number] as DType;
      const ndim = header[2] as number;
      const shape = Array.from(header.subarray(4, 4 + ndim));
      const data = viewOf(dtype, reader.buffer.buffer as ArrayBuffer, header[3] as number);
      (this.#stash[src] as Incoming[]).push({ key: reader.key, message: { dtype, shape, data } });
      next('length', 4);
    }
    if (reader.phase !== 'length' && reader.buffer.length === 0) this.#advance(src, reader);
  }
}
