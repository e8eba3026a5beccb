import { fmtShape, SwitchyardError } from '../../../errors.js';
import { sizeOf } from '../../../shape.js';
import type { KernelTable } from '../../backend.js';
import { launch, runRows } from '../launch.js';
import { type GpuRuntime, WORKGROUP } from '../runtime.js';
import { Meta, main1d, memo, PRELUDE, storage, type WgslType, wgslType } from '../wgsl.js';

/**
 * The total order of the CPU backend: ascending (or descending) by value with NaN largest, ties by lower
 * index. `before(a, b)` says whether element a of the row comes first.
 */
function order(t: string, descending: boolean): string {
  return /* wgsl */ `
fn cmp(a: ${t}, b: ${t}) -> i32 {
${
  t === 'f32'
    ? `  let an = isnan_(a);
  let bn = isnan_(b);
  if (an || bn) { return select(select(-1, 1, an), 0, an == bn); }
`
    : ''
}  return select(select(0, 1, a > b), -1, a < b);
}
fn before(base: u32, a: u32, b: u32) -> bool {
  let c = ${descending ? '-' : ''}cmp(xs[base + a], xs[base + b]);
  return c < 0 || (c == 0 && a < b);
}
`;
}

/** Keys per block of the counting sort: one per thread of a workgroup. */
const BLOCK = WORKGROUP;
/** Bins of the per-block histogram held in workgroup memory at once (4 KiB); more buckets take several rounds. */
const HIST = 1024;

/**
 * Uniform slots shared by the three passes of bucketSort: 1 = keys A, 2 = buckets, 3 = bins (buckets + 1),
 * 4 = blocks. Keys outside [0, buckets) fall in the extra last bin, so they land after every valid key in
 * their original order, and every position written stays within [0, A).
 */
const BUCKET_SORT_HEAD = /* wgsl */ `
fn binOf(v: i32) -> u32 { return select(u(2u), u32(v), v >= 0 && u32(v) < u(2u)); }
`;

/** Pass 1, one workgroup per block: its histogram in workgroup memory, written to counts [blocks, bins]. */
const BUCKET_HISTOGRAM = /* wgsl */ `${PRELUDE}${storage([['keys', 'i32']], ['counts', 'u32'])}${BUCKET_SORT_HEAD}
var<workgroup> hist: array<atomic<u32>, ${HIST}>;
@compute @workgroup_size(${BLOCK})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let block = wid.y * nwg.x + wid.x;
  if (block >= u(0u)) { return; }
  let n = u(1u);
  let bins = u(3u);
  let i = block * ${BLOCK}u + lid.x;
  var bin = 0xffffffffu;
  if (i < n) { bin = binOf(keys[i]); }
  for (var base = 0u; base < bins; base += ${HIST}u) {
    let width = min(${HIST}u, bins - base);
    for (var b = lid.x; b < width; b += ${BLOCK}u) { atomicStore(&hist[b], 0u); }
    workgroupBarrier();
    if (bin >= base && bin - base < width) { atomicAdd(&hist[bin - base], 1u); }
    workgroupBarrier();
    for (var b = lid.x; b < width; b += ${BLOCK}u) { counts[block * bins + base + b] = atomicLoad(&hist[b]); }
    workgroupBarrier();
  }
}
`;

/**
 * Pass 2, a single workgroup: an exclusive scan, in place, of counts read in bucket-major order (bin 0 of
 * every block, then bin 1, ...), so counts[block, bin] becomes the position of that block's first key of
 * that bin. Each thread sums a contiguous run of the bucket-major sequence, the run totals are scanned in
 * workgroup memory, and each thread writes its run's offsets.
 */
const BUCKET_SCAN = /* wgsl */ `${PRELUDE}${storage([], ['counts', 'u32'])}
var<workgroup> sums: array<u32, ${BLOCK}>;
fn at(j: u32, blocks: u32, bins: u32) -> u32 { return (j % blocks) * bins + j / blocks; }
@compute @workgroup_size(${BLOCK})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  let bins = u(3u);
  let blocks = u(4u);
  let total = blocks * bins;
  let seg = (total + ${BLOCK - 1}u) / ${BLOCK}u;
  let start = min(lid.x * seg, total);
  let end = min(start + seg, total);
  var s = 0u;
  for (var j = start; j < end; j++) { s += counts[at(j, blocks, bins)]; }
  sums[lid.x] = s;
  workgroupBarrier();
  for (var off = 1u; off < ${BLOCK}u; off = off << 1u) {
    var add = 0u;
    if (lid.x >= off) { add = sums[lid.x - off]; }
    workgroupBarrier();
    sums[lid.x] += add;
    workgroupBarrier();
  }
  var run = sums[lid.x] - s;
  for (var j = start; j < end; j++) {
    let k = at(j, blocks, bins);
    let c = counts[k];
    counts[k] = run;
    run += c;
  }
}
`;

/**
 * Pass 3, one workgroup per block: each key's rank among the earlier keys of its bin in the block (the bins
 * sit in workgroup memory, every thread reading the same slot at once) plus its block's offset is its final
 * position; the element index goes there.
 */
const BUCKET_SCATTER = /* wgsl */ `${PRELUDE}${storage(
  [
    ['keys', 'i32'],
    ['offsets', 'u32'],
  ],
  ['ys', 'i32'],
)}${BUCKET_SORT_HEAD}
var<workgroup> binsOf: array<u32, ${BLOCK}>;
@compute @workgroup_size(${BLOCK})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let block = wid.y * nwg.x + wid.x;
  if (block >= u(0u)) { return; }
  let n = u(1u);
  let i = block * ${BLOCK}u + lid.x;
  var bin = 0xffffffffu;
  if (i < n) { bin = binOf(keys[i]); }
  binsOf[lid.x] = bin;
  workgroupBarrier();
  if (i >= n) { return; }
  var rank = 0u;
  for (var j = 0u; j < lid.x; j++) {
    if (binsOf[j] == bin) { rank++; }
  }
  ys[offsets[block * u(3u) + bin] + rank] = i32(i);
}
`;

/** One thread per row selects k times, each pick the first element after the previous one. */
const topkCode = memo(
  (t: WgslType, largest: boolean) =>
    `${PRELUDE}${storage([['xs', t]], ['ys', 'i32'])}${order(t, largest)}${main1d(`  let n = u(1u);
  let k = u(2u);
  let base = i * n;
  var prev = 0u;
  for (var j = 0u; j < k; j++) {
    var best = n;
    for (var e = 0u; e < n; e++) {
      if (j > 0u && !before(base, prev, e)) { continue; }
      if (best == n || before(base, e, best)) { best = e; }
    }
    ys[i * k + j] = i32(best);
    prev = best;
  }`)}`,
);

/** One thread per element counts the elements that precede it: its rank, so the sort is stable. */
const argsortCode = memo(
  (t: WgslType, descending: boolean) =>
    `${PRELUDE}${storage([['xs', t]], ['ys', 'i32'])}${order(t, descending)}${main1d(`  let n = u(1u);
  let base = (i / n) * n;
  let me = i % n;
  var rank = 0u;
  for (var e = 0u; e < n; e++) {
    if (before(base, e, me)) { rank++; }
  }
  ys[base + rank] = i32(me);`)}`,
);

export function sortKernels(rt: GpuRuntime): Pick<KernelTable<GPUBuffer>, 'topk' | 'argsort' | 'bucketSort'> {
  return {
    topk: ([x], { k, largest }, out) => {
      const n = x!.shape.at(-1) as number;
      const rows = n === 0 ? 0 : sizeOf(x!.shape) / n;
      return launch(
        rt,
        topkCode(wgslType(x!.dtype), largest),
        new Meta().u32(1, n).u32(2, k),
        [x!.data],
        out,
        k === 0 ? 0 : rows,
      );
    },
    argsort: ([x], { descending }, out) => {
      const n = x!.shape.at(-1) as number;
      return launch(
        rt,
        argsortCode(wgslType(x!.dtype), descending),
        new Meta().u32(1, n),
        [x!.data],
        out,
        sizeOf(x!.shape),
      );
    },
    /**
     * A parallel counting sort in three passes with no host round trip: per-block histograms, one scan over
     * (bin, block) in bucket-major order, then a stable per-block scatter. Blocks are 256 keys.
     */
    bucketSort: ([keys], { buckets }) => {
      const n = keys!.shape[0] as number;
      const result = rt.alloc(n * 4);
      if (n === 0) return result;
      const blocks = Math.ceil(n / BLOCK);
      const bins = buckets + 1;
      const countBytes = blocks * bins * 4;
      const limit = rt.device.limits.maxStorageBufferBindingSize;
      if (countBytes > limit) {
        rt.free(result);
        throw new SwitchyardError(
          'UNSUPPORTED',
          'bucketSort',
          `keys ${fmtShape(keys!.shape)} with ${buckets} buckets need ${countBytes} bytes of block counts, over this device's ${limit}-byte buffer limit`,
        );
      }
      const counts = rt.alloc(countBytes);
      const meta = new Meta().u32(1, n).u32(2, buckets).u32(3, bins).u32(4, blocks);
      runRows(rt, BUCKET_HISTOGRAM, meta, [keys!.data, counts], blocks);
      runRows(rt, BUCKET_SCAN, meta, [counts], 1);
      runRows(rt, BUCKET_SCATTER, meta, [keys!.data, counts, result], blocks);
      rt.free(counts);
      return result;
    },
  };
}
