import { META_SLOTS } from '../runtime.js';
import type { TileConfig } from './linalg.js';

/**
 * Picks the matmul tile configuration per (adapter, shape class) by timing a small candidate set on the
 * device, once, in the background: a kernel call never waits for it. Until a class is tuned (and always for
 * shapes below `TUNE_MIN_FLOPS`, where launch overhead dominates) the caller's default tile is used. Tuning runs on
 * its own buffers, uniforms, pipelines and command buffers, inside error scopes, so it never touches the
 * runtime's pool, batch or error state.
 */
export const TUNE_MIN_FLOPS = 2 ** 18;
/** Tuning times the class on its first shape, each side clamped to this. */
const TUNE_MAX_SIDE = 1024;
const REPS = 3;

/** Tuned winners, keyed `adapter|class`; shared by every runtime on the same adapter. */
const tuned = new Map<string, TileConfig>();
const pending = new Map<string, Promise<TileConfig>>();

const bucket = (x: number): number => (x <= 32 ? 0 : x <= 128 ? 1 : x <= 512 ? 2 : 3);

/** The shape class of an M x K by K x N product: each side bucketed at 32, 128 and 512. */
export function shapeClass(m: number, n: number, k: number): string {
  return `${bucket(m)}${bucket(n)}${bucket(k)}`;
}

export interface TunerSetup {
  device: GPUDevice;
  adapter: string;
  candidates: readonly TileConfig[];
  /** What a failed tuning run settles on. */
  fallback: TileConfig;
  /** WGSL of the plain (untransposed, unbatched) matmul: meta slots m, n, k at 0..2, batch rank at 3. */
  code(c: TileConfig): string;
}

/** The tuned configuration of a class, or undefined while it is untuned or pending. */
export function tunedTile(adapter: string, m: number, n: number, k: number): TileConfig | undefined {
  return tuned.get(`${adapter}|${shapeClass(m, n, k)}`);
}

/** Forgets every tuned class (tests). */
export function clearTunedTiles(): void {
  tuned.clear();
}

/**
 * Starts tuning the class of (m, n, k) unless it is tuned or being tuned; resolves to the winner. Failures
 * (a lost device, a candidate the adapter rejects) fall back to the candidates that ran, or the heuristic.
 */
export function tuneTile(s: TunerSetup, m: number, n: number, k: number): Promise<TileConfig> {
  const key = `${s.adapter}|${shapeClass(m, n, k)}`;
  const done = tuned.get(key);
  if (done) return Promise.resolve(done);
  let p = pending.get(key);
  if (!p) {
    const [tm, tn, tk] = [m, n, k].map((x) => Math.max(1, Math.min(x, TUNE_MAX_SIDE))) as [
      number,
      number,
      number,
    ];
    p = timeCandidates(s, tm, tn, tk)
      .catch(() => s.fallback)
      .then((c) => {
        tuned.set(key, c);
        pending.delete(key);
        return c;
      });
    pending.set(key, p);
  }
  return p;
}

const STORAGE = 0x0080 | 0x0004 | 0x0008;
const UNIFORM = 0x0040 | 0x0008;

async function timeCandidates(s: TunerSetup, m: number, n: number, k: number): Promise<TileConfig> {
  const { device } = s;
  const limits = device.limits;
  const fits = s.candidates.filter(
    (c) =>
      (c.bm / c.rm) * (c.bn / c.rn) <= limits.maxComputeInvocationsPerWorkgroup &&
      c.tk * (c.bm + c.bn + 2) * 4 <= limits.maxComputeWorkgroupStorageSize,
  );
  const buffers: GPUBuffer[] = [];
  const buffer = (words: number, usage: number) => {
    const b = device.createBuffer({ size: Math.max(16, words * 4), usage });
    buffers.push(b);
    return b;
  };
  let best: { c: TileConfig; ms: number } | undefined;
  try {
    const a = buffer(m * k, STORAGE);
    const b = buffer(k * n, STORAGE);
    const y = buffer(m * n, STORAGE);
    const meta = new Uint32Array(META_SLOTS);
    meta.set([m, n, k, 0]);
    for (const c of fits) {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code: s.code(c) });
      const pipeline = device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      const uniforms = buffer(META_SLOTS, UNIFORM);
      device.queue.writeBuffer(uniforms, 0, meta);
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [uniforms, a, b, y].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
      });
      const run = async (reps: number) => {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(Math.ceil(n / c.bn), Math.ceil(m / c.bm), 1);
        pass.end();
        const t0 = performance.now();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        return (performance.now() - t0) / reps;
      };
      const warm = run(1);
      const error = await device.popErrorScope();
      await warm;
      if (error) continue;
      const ms = Math.min(await run(REPS), await run(REPS));
      if (!best || ms < best.ms) best = { c, ms };
    }
  } finally {
    for (const b of buffers) b.destroy();
  }
  if (!best) throw new Error('no tile configuration ran');
  return best.c;
}
