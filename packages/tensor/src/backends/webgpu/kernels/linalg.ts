import { fmtShape, SwitchyardError } from '../../../errors.js';
import { type Shape, sizeOf } from '../../../shape.js';
import type { KernelTable } from '../../backend.js';
import type { GpuRuntime } from '../runtime.js';
import type { TileCache } from '../tile-cache.js';
import { broadcastStrides, Meta, memo, PRELUDE, storage } from '../wgsl.js';
import { TUNE_MIN_FLOPS, tileName, tunedTile, tuneTile } from './matmul-tuner.js';

/**
 * One tile configuration of the tiled product: a workgroup computes a `bm` x `bn` output tile with
 * (bn / rn) x (bm / rm) threads, each holding an `rm` x `rn` block of accumulators in registers.
 *
 * - `tk` > 0 (staged): K advances in slices of `tk` staged through workgroup memory; a thread's rows are
 *   `ty + i * (bm / rm)` and its columns `tx + j * (bn / rn)`, so its neighbours read neighbouring words.
 * - `tk` = 0 (direct): no workgroup memory and no barriers; a thread's rows `ty * rm + i` and columns
 *   `tx * rn + j` are contiguous and it reads its operands straight from the storage buffers, two k at a time.
 *   On adapters that emulate a GPU on the CPU (SwiftShader) this is what runs fastest (3x the staged tiles
 *   there: workgroup memory is ordinary memory and every barrier switches between invocations); GPUs may
 *   prefer either, which the tuner finds out.
 * - `vec4` (staged only; `rm` and `rn` multiples of 4): the staged tiles are held as vec4 words, and a
 *   thread owns groups of 4 adjacent rows and columns, `ty * 4 + i % 4 + (i / 4) * 4 * (bm / rm)` and
 *   likewise for columns, so each k step reads its operands with one workgroup load per 4 rows or columns
 *   and adds vec4 products into vec4 accumulators. On an H100 a prototype of the 128x128 vec4 tile (aligned
 *   shapes only, B read from storage as vec4) ran 4096² products at 28.6 (tk 8) and 30.0 (tk 16) TFLOP/s
 *   where the best scalar tile (64x128) ran 26.5; these general ones are not yet measured on a GPU.
 */
export interface TileConfig {
  readonly bm: number;
  readonly bn: number;
  readonly rm: number;
  readonly rn: number;
  readonly tk: number;
  readonly vec4?: boolean;
}

/** The default of hardware adapters: staged 64x64, 4x4 a thread. */
export const DEFAULT_TILE: TileConfig = { bm: 64, bn: 64, rm: 4, rn: 4, tk: 16 };
/** The default of software adapters (SwiftShader): direct 64x64, 8x8 a thread. */
export const SOFTWARE_TILE: TileConfig = { bm: 64, bn: 64, rm: 8, rn: 8, tk: 0 };

/** The candidates the tuner times: staged ones smallest first, the vec4 ones, then the direct ones. */
export const TILE_CANDIDATES: readonly TileConfig[] = [
  { bm: 16, bn: 16, rm: 1, rn: 1, tk: 16 },
  { bm: 32, bn: 32, rm: 2, rn: 2, tk: 16 },
  DEFAULT_TILE,
  { bm: 128, bn: 64, rm: 8, rn: 4, tk: 8 },
  { bm: 64, bn: 128, rm: 4, rn: 8, tk: 8 },
  { bm: 128, bn: 128, rm: 8, rn: 8, tk: 8, vec4: true },
  { bm: 128, bn: 128, rm: 8, rn: 8, tk: 16, vec4: true },
  { bm: 64, bn: 64, rm: 4, rn: 4, tk: 0 },
  SOFTWARE_TILE,
];

/** Bytes of workgroup memory a tile stages (scalar rows are padded by one word). */
export function workgroupBytes(c: TileConfig): number {
  return c.tk * (c.bm + c.bn + (c.vec4 ? 0 : 2)) * 4;
}

/** Largest number of batch axes the matmul kernel indexes (after merging contiguous axes). */
const MAX_BATCH_RANK = 6;

export interface LinalgOptions {
  /** Use this tile configuration for every shape (tests, and users who tuned elsewhere). */
  tile?: TileConfig;
  /** The tile of shapes not tuned (yet). Default `DEFAULT_TILE`. */
  defaultTile?: TileConfig;
  /** Time the candidates per (adapter, shape class) in the background on first use. Default true. */
  tune?: boolean;
  /**
   * Where tuned tiles are kept per (adapter, shape class) and looked up, tuning on or off. Default: an
   * in-memory cache shared by this process.
   */
  tileCache?: TileCache;
}

/**
 * How one operand is read. A tile of A is bm (m) x tk (k), a tile of B is tk (k) x bn (n). `at(outer, k)` is
 * the WGSL of the element at row or column `outer` and depth `k`; `cond` is WGSL over the absolute indices
 * `m`/`k` (A) or `k`/`n` (B), outside which staged loads read zero; `kContig` says consecutive k are adjacent
 * in memory, so consecutive threads then stage along k (coalesced) instead of m or n. `keep` (A only) is the
 * half-open range of rows that contribute (a grouped segment): direct loads read zero outside it.
 */
interface Operand {
  kContig: boolean;
  cond: string;
  at(outer: string, k: string): string;
  keep?: [string, string];
}

/** Threads of a workgroup along x (columns) and y (rows). */
const threadsOf = (c: TileConfig): [number, number] => [c.bn / c.rn, c.bm / c.rm];

/** A thread's i-th row and j-th column, relative to the workgroup tile's corner (m0, n0). */
function rowOf(c: TileConfig, i: number): string {
  if (c.vec4) return `ty * 4u + ${(i >> 2) * 4 * threadsOf(c)[1] + (i & 3)}u`;
  return c.tk > 0 ? `ty + ${i * threadsOf(c)[1]}u` : `ty * ${c.rm}u + ${i}u`;
}
function colOf(c: TileConfig, j: number): string {
  if (c.vec4) return `tx * 4u + ${(j >> 2) * 4 * threadsOf(c)[0] + (j & 3)}u`;
  return c.tk > 0 ? `tx + ${j * threadsOf(c)[0]}u` : `tx * ${c.rn}u + ${j}u`;
}

/** The accumulator of a thread's i-th row and j-th column: vec4 tiles keep 4 columns in one vec4. */
function accOf(c: TileConfig, i: number, j: number): string {
  return c.vec4 ? `acc${i}_${j >> 2}[${j & 3}]` : `acc${i}_${j}`;
}

/** Every thread adds its rm x rn block of outer products (unrolled, so the accumulators stay in registers). */
function outerProducts(c: TileConfig, a: (i: number) => string, b: (j: number) => string): string[] {
  const lines: string[] = [];
  for (let i = 0; i < c.rm; i++) lines.push(`let a${i} = ${a(i)};`);
  for (let j = 0; j < c.rn; j++) lines.push(`let b${j} = ${b(j)};`);
  for (let i = 0; i < c.rm; i++) for (let j = 0; j < c.rn; j++) lines.push(`acc${i}_${j} += a${i} * b${j};`);
  return lines;
}

/** A vec4 tile's k step: one workgroup load per 4 rows of A and per 4 columns of B, vec4 multiply-adds. */
function vec4Products(c: TileConfig): string[] {
  const [wx, wy] = threadsOf(c);
  const lines: string[] = [];
  for (let g = 0; g < c.rm / 4; g++) lines.push(`let a${g} = As[kk * ${c.bm / 4}u + ty + ${g * wy}u];`);
  for (let g = 0; g < c.rn / 4; g++) lines.push(`let b${g} = Bs[kk * ${c.bn / 4}u + tx + ${g * wx}u];`);
  for (let i = 0; i < c.rm; i++)
    for (let g = 0; g < c.rn / 4; g++) lines.push(`acc${i}_${g} += a${i >> 2}[${i & 3}] * b${g};`);
  return lines;
}

/**
 * One K step of the staged product starting at `k0` (a WGSL variable): both tiles are staged into workgroup
 * memory (zero outside `cond`), then every thread adds its block of outer products. Scalar staged rows are
 * padded by one word so column-wise stores spread over banks; vec4 tiles read 4 rows (columns) a load.
 */
function kStep(c: TileConfig, a: Operand, b: Operand): string {
  const [wx, wy] = threadsOf(c);
  const threads = wx * wy;
  const loads = (
    name: 'As' | 'Bs',
    op: Operand,
    outer: 'm' | 'n',
    base: 'm0' | 'n0',
    edge: number,
  ): string => {
    const [kk, oo] = op.kContig ? [`idx % ${c.tk}u`, `idx / ${c.tk}u`] : [`idx / ${edge}u`, `idx % ${edge}u`];
    return `
    for (var l = 0u; l < ${(edge * c.tk) / threads}u; l++) {
      let idx = lt + l * ${threads}u;
      let kk = ${kk};
      let oo = ${oo};
      let k = k0 + kk;
      let ${outer} = ${base} + oo;
      var v = 0.0;
      if (${op.cond}) { v = ${op.at(outer, 'k')}; }
      ${c.vec4 ? `${name}[kk * ${edge / 4}u + (oo >> 2u)][oo & 3u]` : `${name}[kk * ${edge + 1}u + oo]`} = v;
    }`;
  };
  const products = c.vec4
    ? vec4Products(c)
    : outerProducts(
        c,
        (i) => `As[kk * ${c.bm + 1}u + ty + ${i * wy}u]`,
        (j) => `Bs[kk * ${c.bn + 1}u + tx + ${j * wx}u]`,
      );
  return `${loads('As', a, 'm', 'm0', c.bm)}${loads('Bs', b, 'n', 'n0', c.bn)}
    workgroupBarrier();
    for (var kk = 0u; kk < ${c.tk}u; kk++) {
${products.map((l) => `      ${l}`).join('\n')}
    }
    workgroupBarrier();`;
}

/** What one product covers, as WGSL: k in [from, to); A's rows end at `rows`, B's columns at `cols`. */
interface Span {
  from: string;
  to: string;
  rows: string;
  cols: string;
}

/**
 * The direct product over the span: rows and columns are clamped to the operands' edges, so every load is in
 * bounds without a branch (what lies past the edge is never stored), and A's rows outside `keep` read zero.
 */
function directLoop(c: TileConfig, a: Operand, b: Operand, { from, to, rows, cols }: Span): string {
  const setup: string[] = [];
  for (let i = 0; i < c.rm; i++) {
    setup.push(`let ra${i} = min(m0 + ${rowOf(c, i)}, ${rows} - 1u);`);
    if (a.keep)
      setup.push(`let ka${i} = m0 + ${rowOf(c, i)} >= ${a.keep[0]} && m0 + ${rowOf(c, i)} < ${a.keep[1]};`);
  }
  for (let j = 0; j < c.rn; j++) setup.push(`let cb${j} = min(n0 + ${colOf(c, j)}, ${cols} - 1u);`);
  const step = (k: string): string =>
    `{\n${outerProducts(
      c,
      (i) => (a.keep ? `select(0.0, ${a.at(`ra${i}`, k)}, ka${i})` : a.at(`ra${i}`, k)),
      (j) => b.at(`cb${j}`, k),
    )
      .map((l) => `        ${l}`)
      .join('\n')}\n      }`;
  const loop = `var k = ${from};
    for (; k + 1u < ${to}; k += 2u) {
      ${step('k')}
      ${step('(k + 1u)')}
    }
    if (k < ${to}) ${step('k')}`;
  // A thread none of whose rows is kept skips the loop.
  const [lo, hi] = a.keep ?? [];
  const body = a.keep
    ? `if (m0 + ty * ${c.rm}u < ${hi} && m0 + ty * ${c.rm}u + ${c.rm}u > ${lo}) {\n    ${loop}\n    }`
    : loop;
  return `
    ${setup.join('\n    ')}
    ${body}`;
}

/** The product over the span with either kind of tile. */
function kLoop(c: TileConfig, a: Operand, b: Operand, span: Span): string {
  if (c.tk === 0) return directLoop(c, a, b, span);
  return `
    for (var k0 = ${span.from}; k0 < ${span.to}; k0 += ${c.tk}u) {${kStep(c, a, b)}
    }`;
}

/** Workgroup tiles (staged only), the entry point and the per-thread setup shared by the three kernels. */
function head(c: TileConfig): string {
  const [wx, wy] = threadsOf(c);
  const accs: string[] = [];
  for (let i = 0; i < c.rm; i++) {
    if (c.vec4) for (let g = 0; g < c.rn / 4; g++) accs.push(`  var acc${i}_${g} = vec4<f32>();`);
    else for (let j = 0; j < c.rn; j++) accs.push(`  var acc${i}_${j} = 0.0;`);
  }
  const tiles = c.vec4
    ? `var<workgroup> As: array<vec4<f32>, ${(c.tk * c.bm) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(c.tk * c.bn) / 4}>;`
    : c.tk > 0
      ? `var<workgroup> As: array<f32, ${c.tk * (c.bm + 1)}>;
var<workgroup> Bs: array<f32, ${c.tk * (c.bn + 1)}>;`
      : '';
  return /* wgsl */ `
${tiles}

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let lt = ty * ${wx}u + tx;
${accs.join('\n')}`;
}

/** Stores each thread's block (rows `m0 + rowOf(i)`, columns `n0 + colOf(j)`) in row-major `ys`. */
function store(c: TileConfig, rows: string, cols: string, base: string): string {
  const lines: string[] = [];
  for (let i = 0; i < c.rm; i++) {
    lines.push(`  if (m0 + ${rowOf(c, i)} < ${rows}) {`);
    lines.push(`    let at = ${base} + (m0 + ${rowOf(c, i)}) * ${cols} + n0;`);
    for (let j = 0; j < c.rn; j++) {
      lines.push(`    if (n0 + ${colOf(c, j)} < ${cols}) { ys[at + ${colOf(c, j)}] = ${accOf(c, i, j)}; }`);
    }
    lines.push('  }');
  }
  return `\n${lines.join('\n')}\n}\n`;
}

/** Clamped segment start helper (the CPU kernel's `segment()`): offsets[e] limited to [0, rows]. */
const OFFSETS = /* wgsl */ `
fn offAt(e: u32, rows: u32) -> u32 { return u32(clamp(offs[e], 0, i32(rows))); }
`;

// Meta slots of the batched matmul.
const MM_M = 0;
const MM_N = 1;
const MM_K = 2;
const MM_RANK = 3;
const MM_BASE = 4; // x, y, z workgroup bases (4, 5, 6) for grids split past the per-dimension limit
const MM_DIMS = 8;
const MM_ASTR = 16;
const MM_BSTR = 24;

export function matmulCode(c: TileConfig, transA: boolean, transB: boolean): string {
  const a: Operand = {
    kContig: !transA,
    cond: 'm < dm && k < dk',
    at: (m, k) => (transA ? `xa[aBase + ${k} * dm + ${m}]` : `xa[aBase + ${m} * dk + ${k}]`),
  };
  const b: Operand = {
    kContig: transB,
    cond: 'k < dk && n < dn',
    at: (n, k) => (transB ? `xb[bBase + ${n} * dk + ${k}]` : `xb[bBase + ${k} * dn + ${n}]`),
  };
  return `${PRELUDE}${storage(
    [
      ['xa', 'f32'],
      ['xb', 'f32'],
    ],
    ['ys', 'f32'],
  )}${head(c)}
  let dm = u(${MM_M}u);
  let dn = u(${MM_N}u);
  let dk = u(${MM_K}u);
  let n0 = (wid.x + u(${MM_BASE}u)) * ${c.bn}u;
  let m0 = (wid.y + u(${MM_BASE + 1}u)) * ${c.bm}u;
  let bi = wid.z + u(${MM_BASE + 2}u);
  var rem = bi;
  var aBase = 0u;
  var bBase = 0u;
  for (var d = i32(u(${MM_RANK}u)) - 1; d >= 0; d--) {
    let dim = u(${MM_DIMS}u + u32(d));
    let c = rem % dim;
    rem = rem / dim;
    aBase += c * u(${MM_ASTR}u + u32(d));
    bBase += c * u(${MM_BSTR}u + u32(d));
  }${kLoop(c, a, b, { from: '0u', to: 'dk', rows: 'dm', cols: 'dn' })}${store(c, 'dm', 'dn', 'bi * dm * dn')}`;
}

function groupedCode(c: TileConfig, transW: boolean): string {
  const a: Operand = {
    kContig: true,
    cond: 'm >= s && m < t && k < dk',
    at: (m, k) => `xs[${m} * dk + ${k}]`,
    keep: ['s', 't'],
  };
  const b: Operand = {
    kContig: transW,
    cond: 'k < dk && n < dn',
    at: (n, k) => (transW ? `ws[wBase + ${n} * dk + ${k}]` : `ws[wBase + ${k} * dn + ${n}]`),
  };
  return `${PRELUDE}${storage(
    [
      ['xs', 'f32'],
      ['ws', 'f32'],
      ['offs', 'i32'],
    ],
    ['ys', 'f32'],
  )}${OFFSETS}${head(c)}
  let dr = u(0u);
  let dn = u(1u);
  let dk = u(2u);
  let experts = u(3u);
  let n0 = (wid.x + u(4u)) * ${c.bn}u;
  let m0 = (wid.y + u(5u)) * ${c.bm}u;
  let m1 = m0 + ${c.bm}u;
  // The expert holding row m0: the last e whose (clamped) start is <= m0.
  var lo = 0u;
  var hi = experts;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (offAt(mid, dr) <= m0) { lo = mid + 1u; } else { hi = mid; }
  }
  // Every segment meeting this row tile in turn; rows outside the segment read as zeros, so their
  // accumulators only ever receive their own expert's products.
  for (var e = select(0u, lo - 1u, lo > 0u); e < experts; e++) {
    let s = offAt(e, dr);
    let t = max(offAt(e + 1u, dr), s);
    if (s >= m1) { break; }
    if (t > m0 && t > s) {
      let wBase = e * dk * dn;${kLoop(c, a, b, { from: '0u', to: 'dk', rows: 'dr', cols: 'dn' })}
    }
  }${store(c, 'dr', 'dn', '0u')}`;
}

function gradWCode(c: TileConfig): string {
  // dw[e] (K x N) = x[s:t]^T @ dy[s:t]: the product's m is x's column, its k is the row r in the segment.
  const a: Operand = { kContig: false, cond: 'm < dk && k < t', at: (m, k) => `xs[${k} * dk + ${m}]` };
  const b: Operand = { kContig: false, cond: 'k < t && n < dn', at: (n, k) => `dys[${k} * dn + ${n}]` };
  return `${PRELUDE}${storage(
    [
      ['xs', 'f32'],
      ['dys', 'f32'],
      ['offs', 'i32'],
    ],
    ['ys', 'f32'],
  )}${OFFSETS}${head(c)}
  let dr = u(0u);
  let dn = u(1u);
  let dk = u(2u);
  let n0 = (wid.x + u(4u)) * ${c.bn}u;
  let m0 = (wid.y + u(5u)) * ${c.bm}u;
  let e = wid.z + u(6u);
  let s = offAt(e, dr);
  let t = max(offAt(e + 1u, dr), s);${kLoop(c, a, b, { from: 's', to: 't', rows: 'dk', cols: 'dn' })}${store(c, 'dk', 'dn', 'e * dk * dn')}`;
}

/** The sources built once per (tile, variant), so every launch passes the runtime the same string. */
const matmulSource = memo(matmulCode, (c, transA, transB) => `${tileName(c)}|${transA}|${transB}`);
const groupedSource = memo(groupedCode, (c, transW) => `${tileName(c)}|${transW}`);
const gradWSource = memo(gradWCode, (c) => tileName(c));

/**
 * Launches `code` over a [gx, gy, gz] grid of workgroups, split into several dispatches where a dimension
 * passes the device's per-dimension limit; the workgroup bases of each piece go to meta slots base..base+2.
 */
function dispatchGrid(
  rt: GpuRuntime,
  code: string,
  meta: Meta,
  buffers: GPUBuffer[],
  [gx, gy, gz]: [number, number, number],
  base: number,
): void {
  if (gx === 0 || gy === 0 || gz === 0) return;
  const pipeline = rt.pipeline(code);
  const max = rt.device.limits.maxComputeWorkgroupsPerDimension || 65535;
  for (let z = 0; z < gz; z += max) {
    for (let y = 0; y < gy; y += max) {
      for (let x = 0; x < gx; x += max) {
        meta
          .u32(base, x)
          .u32(base + 1, y)
          .u32(base + 2, z);
        const workgroups = [Math.min(max, gx - x), Math.min(max, gy - y), Math.min(max, gz - z)] as const;
        rt.dispatch({ pipeline, meta: meta.data, buffers, workgroups });
      }
    }
  }
}

/**
 * Batch axes of the output with the (matrix-unit) strides of a and b, size-1 axes dropped and neighbours
 * merged where both operands step through them contiguously, so most broadcasts index one or two axes.
 */
function batchAxes(
  aBatch: Shape,
  bBatch: Shape,
  outBatch: Shape,
): { dims: number[]; sa: number[]; sb: number[] } {
  const sa0 = broadcastStrides(aBatch, outBatch);
  const sb0 = broadcastStrides(bBatch, outBatch);
  const dims: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  outBatch.forEach((dim, d) => {
    if (dim === 1) return;
    const a = sa0[d] as number;
    const b = sb0[d] as number;
    const last = dims.length - 1;
    if (last >= 0 && sa[last] === a * dim && sb[last] === b * dim) {
      dims[last] = (dims[last] as number) * dim;
      sa[last] = a;
      sb[last] = b;
    } else {
      dims.push(dim);
      sa.push(a);
      sb.push(b);
    }
  });
  return { dims, sa, sb };
}

/**
 * WGSL kernels of `matmul`, `groupedMatmul` and `groupedMatmulGradW`, all built on one register- and
 * workgroup-tiled product (see `TileConfig`): with the default 64x64 tile a workgroup of 16x16 threads
 * computes a 64x64 output tile, each thread a 4x4 block in registers, K advancing in slices of 16 staged
 * through workgroup memory (each thread loading a few words of each slice, in an order chosen per layout so
 * consecutive threads read consecutive addresses). That tile serves tiny shapes and every shape until the
 * background tuner (`matmul-tuner.ts`) has timed the `TILE_CANDIDATES` for its (adapter, shape class);
 * the fastest then serves the class. Every
 * candidate accumulates each output over k in the same order, so they agree to rounding.
 * Transposed operands are read by index arithmetic while staging; every load is bounds-checked (zero
 * outside), so any M, N and K work, and K = 0 writes zeros. Shapes and strides travel in the uniform block,
 * so the WGSL depends only on the tile and the transpose flags, and one pipeline serves every shape.
 *
 * - `matmul`: grid (N/bn, M/bm, batch); the batch index is decomposed over up to 6 broadcast batch axes
 *   (after dropping size-1 axes and merging contiguous ones) with per-axis strides for a and b.
 * - `groupedMatmul`: grid (N/bn, R/bm). Offsets stay on the GPU: each workgroup binary-searches the clamped
 *   offsets for the expert holding its first row, then walks the segments meeting its row tile, running
 *   the tiled product once per segment with that expert's w and the rows outside the segment staged as
 *   zeros, so tiles straddling experts stay exact and rows past offsets[E] stay zero. Offsets are clamped
 *   like the CPU kernel's `segment()` (start to [0, R], end to [start, R]): malformed offsets never read out
 *   of bounds.
 * - `groupedMatmulGradW`: grid (N/bn, K/bm, E); workgroup (.., .., e) computes x[seg]^T @ dy[seg], stepping
 *   through the segment's rows tk at a time (an empty segment writes zeros).
 *
 * Grids past the per-dimension workgroup limit are split into several dispatches, each with its workgroup
 * base offsets in the uniform block.
 */
export function linalgKernels(
  rt: GpuRuntime,
  options: LinalgOptions = {},
): Pick<KernelTable<GPUBuffer>, 'matmul' | 'groupedMatmul' | 'groupedMatmulGradW'> {
  const fallback = options.defaultTile ?? DEFAULT_TILE;
  const tuner = {
    device: rt.device,
    adapter: rt.adapter,
    candidates: TILE_CANDIDATES,
    fallback,
    code: (c: TileConfig) => matmulCode(c, false, false),
    ...(options.tileCache ? { cache: options.tileCache } : {}),
  };
  /** The tile for an M x K by K x N product: forced, tuned, or the default (tiny shapes; while tuning runs). */
  const tileFor = (m: number, n: number, k: number): TileConfig => {
    if (options.tile) return options.tile;
    const done = tunedTile(tuner, m, n, k);
    if (done) return done;
    if ((options.tune ?? true) && 2 * m * n * k >= TUNE_MIN_FLOPS) void tuneTile(tuner, m, n, k);
    return fallback;
  };
  const output = (shape: Shape): GPUBuffer => rt.alloc(Math.max(sizeOf(shape), 1) * 4);

  return {
    matmul: ([a, b], { transA, transB }, out) => {
      const m = out.shape.at(-2) as number;
      const n = out.shape.at(-1) as number;
      const k = (transA ? a!.shape.at(-2) : a!.shape.at(-1)) as number;
      const outBatch = out.shape.slice(0, -2);
      const batch = sizeOf(outBatch);
      const { dims, sa, sb } = batchAxes(a!.shape.slice(0, -2), b!.shape.slice(0, -2), outBatch);
      if (dims.length > MAX_BATCH_RANK && m > 0 && n > 0 && batch > 0) {
        throw new SwitchyardError(
          'UNSUPPORTED',
          'matmul',
          `the webgpu backend indexes at most ${MAX_BATCH_RANK} batch axes after merging contiguous ones, ` +
            `got ${dims.length}: a is ${fmtShape(a!.shape)}, b is ${fmtShape(b!.shape)}`,
        );
      }
      const result = output(out.shape);
      if (m === 0 || n === 0 || batch === 0) return result;
      const meta = new Meta()
        .u32(MM_M, m)
        .u32(MM_N, n)
        .u32(MM_K, k)
        .u32(MM_RANK, dims.length)
        .list(MM_DIMS, dims)
        .list(
          MM_ASTR,
          sa.map((s) => s * m * k),
        )
        .list(
          MM_BSTR,
          sb.map((s) => s * k * n),
        );
      const c = tileFor(m, n, k);
      const code = matmulSource(c, transA, transB);
      const grid: [number, number, number] = [Math.ceil(n / c.bn), Math.ceil(m / c.bm), batch];
      dispatchGrid(rt, code, meta, [a!.data, b!.data, result], grid, MM_BASE);
      return result;
    },
    groupedMatmul: ([x, w, offsets], { transW }, out) => {
      const result = output(out.shape);
      const [rows, n] = out.shape as [number, number];
      const k = x!.shape[1] as number;
      const experts = w!.shape[0] as number;
      if (rows === 0 || n === 0) return result;
      const meta = new Meta().u32(0, rows).u32(1, n).u32(2, k).u32(3, experts);
      const c = tileFor(Math.ceil(rows / experts), n, k);
      const code = groupedSource(c, transW);
      const grid: [number, number, number] = [Math.ceil(n / c.bn), Math.ceil(rows / c.bm), 1];
      dispatchGrid(rt, code, meta, [x!.data, w!.data, offsets!.data, result], grid, 4);
      return result;
    },
    groupedMatmulGradW: ([x, dy, offsets], _attrs, out) => {
      const result = output(out.shape);
      const [experts, k, n] = out.shape as [number, number, number];
      const rows = x!.shape[0] as number;
      if (experts === 0 || k === 0 || n === 0) return result;
      const meta = new Meta().u32(0, rows).u32(1, n).u32(2, k).u32(3, experts);
      const c = tileFor(k, n, Math.ceil(rows / experts));
      const code = gradWSource(c);
      const grid: [number, number, number] = [Math.ceil(n / c.bn), Math.ceil(k / c.bm), experts];
      dispatchGrid(rt, code, meta, [x!.data, dy!.data, offsets!.data, result], grid, 4);
      return result;
    },
  };
}
