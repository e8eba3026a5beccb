import { sizeOf } from '../../../shape.js';
import type { KernelInput, KernelTable } from '../../backend.js';
import { launch, runRows } from '../launch.js';
import type { GpuRuntime } from '../runtime.js';
import { Meta, memo, PRELUDE, storage, wgslType } from '../wgsl.js';
import { permuteBuffer } from './layout.js';

const ROW_THREADS = 64;
/** Rows at most this long are folded by one thread each (a 64-thread workgroup would idle on them). */
export const SHORT_ROW = 64;
/** Lines (reduced extent with a stride) at most this long, or this many of them, are folded one per thread. */
const LINE_MAX = 1024;
const LINE_MIN_OUTPUTS = 1024;
/** Elements of a row one workgroup folds in the first stage of a split reduction (32 a thread). */
export const SPLIT_CHUNK = 2048;
/** Rows at least this long are split when there are fewer than SPLIT_MAX_OUTPUTS of them. */
const SPLIT_MIN_ROW = 4 * SPLIT_CHUNK;
const SPLIT_MAX_OUTPUTS = 128;

/**
 * How a reduction over `axes` runs. `lines`: one thread per output folding `n` values `inner` apart, for short
 * rows and for reductions over leading or middle axes (read in place, coalesced across threads). `rows`: one
 * 64-thread workgroup per row, for long rows. `split`: few very long rows (a whole large tensor to a scalar)
 * in two stages: one workgroup per `SPLIT_CHUNK` of a row writes a partial result ([outputs, chunks]), then one
 * workgroup per row combines its partials. `permute`: the reduced axes are first moved last (a GPU copy),
 * needed when they are not one contiguous block, or when a long block over leading axes has few outputs.
 */
export function reducePlan(
  shape: readonly number[],
  axes: readonly number[],
): {
  kind: 'lines' | 'rows' | 'split';
  permute: boolean;
  n: number;
  inner: number;
  outputs: number;
  chunks: number;
} {
  const n = sizeOf(axes.map((a) => shape[a] as number));
  const outputs = sizeOf(shape.filter((_, i) => !axes.includes(i)));
  const contiguous = axes.every((a, i) => i === 0 || a === (axes[i - 1] as number) + 1);
  const inner = contiguous ? sizeOf(shape.slice((axes.at(-1) ?? shape.length - 1) + 1)) : 1;
  if (contiguous && inner > 1 && (n <= LINE_MAX || outputs >= LINE_MIN_OUTPUTS)) {
    return { kind: 'lines', permute: false, n, inner, outputs, chunks: 1 };
  }
  const permute = !contiguous || inner > 1;
  if (n >= SPLIT_MIN_ROW && outputs < SPLIT_MAX_OUTPUTS) {
    return { kind: 'split', permute, n, inner: 1, outputs, chunks: Math.ceil(n / SPLIT_CHUNK) };
  }
  return { kind: n <= SHORT_ROW ? 'lines' : 'rows', permute, n, inner: 1, outputs, chunks: 1 };
}

/** Moves the reduced axes last (a GPU permutation when they are not already trailing): rows x inner. */
function asRows(rt: GpuRuntime, x: KernelInput<GPUBuffer>, axes: readonly number[]) {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const perm = [...kept, ...axes];
  const identity = perm.every((p, i) => p === i);
  const data = identity ? x.data : permuteBuffer(rt, x.data, x.shape, x.dtype, perm);
  return { data, temporary: !identity };
}

/** The fold of one line with the CPU's order for max/min (see `rowReduceCode`); `n` >= 1. */
function lineReduceBody(t: string, fn: 'sum' | 'max' | 'min', arg: boolean): string {
  if (fn === 'sum') {
    return `  var acc: ${t} = ${t === 'f32' ? '0.0' : '0'};
  for (var j = 0u; j < n; j++) { acc = acc + xs[start + j * inner]; }
  ys[line] = acc;`;
  }
  return `  var acc = xs[start];
  var at = 0u;
  for (var j = 1u; j < n; j++) {
    let v = xs[start + j * inner];
    if (wins(v, j, acc, at)) { acc = v; at = j; }
  }
  ys[line] = ${arg ? 'i32(at)' : 'acc'};`;
}

function winsCode(t: string, fn: 'sum' | 'max' | 'min'): string {
  if (fn === 'sum') return '';
  return `
fn nan(x: ${t}) -> bool { return ${t === 'f32' ? 'isnan_(x)' : 'false'}; }
fn wins(o: ${t}, oi: u32, m: ${t}, mi: u32) -> bool {
  if (nan(m)) { return nan(o) && oi < mi; }
  if (nan(o)) { return true; }
  return o ${fn === 'max' ? '>' : '<'} m || (o == m && oi < mi);
}
`;
}

/** The workgroup tree of partial sums: each thread's `acc` in, the row's total left in vals[0]. */
const SUM_TREE = `  vals[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${ROW_THREADS / 2}u; s > 0u; s = s >> 1u) {
    if (lid.x < s) { vals[lid.x] = vals[lid.x] + vals[lid.x + s]; }
    workgroupBarrier();
  }`;

/** The workgroup tree of (value, index) pairs of max/min: the better pair of each two moves down, invalid indices never win. */
const PAIR_TREE = `  vals[lid.x] = acc;
  idxs[lid.x] = at;
  workgroupBarrier();
  for (var s = ${ROW_THREADS / 2}u; s > 0u; s = s >> 1u) {
    if (lid.x < s) {
      let oi = idxs[lid.x + s];
      let mi = idxs[lid.x];
      if (oi != 0xffffffffu && (mi == 0xffffffffu || wins(vals[lid.x + s], oi, vals[lid.x], mi))) {
        vals[lid.x] = vals[lid.x + s];
        idxs[lid.x] = oi;
      }
    }
    workgroupBarrier();
  }`;

/**
 * One workgroup per row: each thread folds a strided slice of the row, then a tree in workgroup memory.
 * max/min (and their arg versions) keep (value, index) pairs with the CPU order: a NaN beats every number
 * (the first NaN wins), otherwise the better value, ties to the lower index.
 */
const rowReduceCode = memo((t: string, fn: 'sum' | 'max' | 'min', arg: boolean): string => {
  const head = `${PRELUDE}${storage([['xs', t]], ['ys', arg ? 'i32' : t])}
var<workgroup> vals: array<${t}, ${ROW_THREADS}>;
var<workgroup> idxs: array<u32, ${ROW_THREADS}>;
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  let valid = row < u(0u);
  let n = select(0u, u(1u), valid);
  let base = row * n;`;
  if (fn === 'sum') {
    return `${head}
  var acc: ${t} = ${t === 'f32' ? '0.0' : '0'};
  for (var j = lid.x; j < n; j += ${ROW_THREADS}u) { acc = acc + xs[base + j]; }
${SUM_TREE}
  if (lid.x == 0u && valid) { ys[row] = vals[0]; }
}
`;
  }
  return `${winsCode(t, fn)}${head}
  var acc = xs[base + min(lid.x, max(n, 1u) - 1u)];
  var at = select(${'0xffffffffu'}, lid.x, lid.x < n);
  for (var j = lid.x + ${ROW_THREADS}u; j < n; j += ${ROW_THREADS}u) {
    let v = xs[base + j];
    if (wins(v, j, acc, at)) { acc = v; at = j; }
  }
${PAIR_TREE}
  if (lid.x == 0u && valid) { ys[row] = ${arg ? 'i32(idxs[0])' : 'vals[0]'}; }
}
`;
});

/**
 * Stage 1 of a split reduction, one workgroup per chunk of a row viewed as [outputs, n] (slots 0 outputs x
 * chunks, 1 n, 2 chunks): the `rowReduceCode` fold over the chunk's `SPLIT_CHUNK` elements, written to
 * ys [outputs, chunks]; max/min also write the winner's index in its row to yi, so the second stage keeps
 * the CPU's order (the first NaN, otherwise ties to the lower index).
 */
const splitPartialCode = memo((t: string, fn: 'sum' | 'max' | 'min'): string => {
  const pairs = fn !== 'sum';
  const bindings = `@group(0) @binding(1) var<storage, read> xs: array<${t}>;
@group(0) @binding(2) var<storage, read_write> ys: array<${t}>;${
    pairs ? '\n@group(0) @binding(3) var<storage, read_write> yi: array<u32>;' : ''
  }`;
  const head = `${PRELUDE}${bindings}${winsCode(t, fn)}
var<workgroup> vals: array<${t}, ${ROW_THREADS}>;
var<workgroup> idxs: array<u32, ${ROW_THREADS}>;
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let part = wid.y * nwg.x + wid.x;
  let valid = part < u(0u);
  let n = u(1u);
  let row = part / u(2u);
  let first = (part % u(2u)) * ${SPLIT_CHUNK}u;
  let end = select(first, min(n, first + ${SPLIT_CHUNK}u), valid);
  let base = select(0u, row * n, valid);`;
  if (!pairs) {
    return `${head}
  var acc: ${t} = ${t === 'f32' ? '0.0' : '0'};
  for (var j = first + lid.x; j < end; j += ${ROW_THREADS}u) { acc = acc + xs[base + j]; }
${SUM_TREE}
  if (lid.x == 0u && valid) { ys[part] = vals[0]; }
}
`;
  }
  return `${head}
  var acc = xs[base + min(first + lid.x, max(end, first + 1u) - 1u)];
  var at = select(0xffffffffu, first + lid.x, first + lid.x < end);
  for (var j = first + lid.x + ${ROW_THREADS}u; j < end; j += ${ROW_THREADS}u) {
    let v = xs[base + j];
    if (wins(v, j, acc, at)) { acc = v; at = j; }
  }
${PAIR_TREE}
  if (lid.x == 0u && valid) { ys[part] = vals[0]; yi[part] = idxs[0]; }
}
`;
});

/**
 * Stage 2 of a split max/min, one workgroup per row of partials [outputs, chunks] (slots 0 outputs, 1 chunks):
 * folds the (value, index) pairs in the CPU's order and writes the value, or the index for arg reductions.
 * (A split sum's second stage is `rowReduceCode` over the partial sums.)
 */
const splitCombineCode = memo((t: string, fn: 'max' | 'min', arg: boolean): string => {
  return `${PRELUDE}@group(0) @binding(1) var<storage, read> ps: array<${t}>;
@group(0) @binding(2) var<storage, read> pi: array<u32>;
@group(0) @binding(3) var<storage, read_write> ys: array<${arg ? 'i32' : t}>;${winsCode(t, fn)}
var<workgroup> vals: array<${t}, ${ROW_THREADS}>;
var<workgroup> idxs: array<u32, ${ROW_THREADS}>;
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  let valid = row < u(0u);
  let c = select(0u, u(1u), valid);
  let base = row * c;
  var acc = ps[base + min(lid.x, max(c, 1u) - 1u)];
  var at = 0xffffffffu;
  if (lid.x < c) { at = pi[base + lid.x]; }
  for (var j = lid.x + ${ROW_THREADS}u; j < c; j += ${ROW_THREADS}u) {
    let v = ps[base + j];
    let vi = pi[base + j];
    if (wins(v, vi, acc, at)) { acc = v; at = vi; }
  }
${PAIR_TREE}
  if (lid.x == 0u && valid) { ys[row] = ${arg ? 'i32(idxs[0])' : 'vals[0]'}; }
}
`;
});

/** One thread per line along an axis viewed as [outer, n, inner]: slots 1 n, 2 inner. */
function lineCode(t: string, out: string, body: string, helpers = ''): string {
  return `${PRELUDE}${storage([['xs', t]], ['ys', out])}${helpers}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (line >= u(0u)) { return; }
  let n = u(1u);
  let inner = u(2u);
  let start = (line / inner) * n * inner + line % inner;
${body}
}
`;
}

function lineMeta(shape: readonly number[], axis: number): { meta: Meta; lines: number } {
  const n = shape[axis] as number;
  const inner = sizeOf(shape.slice(axis + 1));
  return { meta: new Meta().u32(1, n).u32(2, Math.max(inner, 1)), lines: n === 0 ? 0 : sizeOf(shape) / n };
}

const SOFTMAX = (log: boolean) => `  var m = -3.4028234663852886e38;
  var seenInf = false;
  for (var j = 0u; j < n; j++) { let v = xs[start + j * inner]; m = max(m, v); if (v > 3.4028234663852886e38) { seenInf = true; } }
  if (seenInf) { m = f32bits(0x7f800000u); }
  if (isnan_(m) || abs(m) > 3.4028234663852886e38) { m = 0.0; }
  var s = 0.0;
  for (var j = 0u; j < n; j++) { s += exp(xs[start + j * inner] - m); }
  ${log ? 'let lse = m + log(s);' : ''}
  for (var j = 0u; j < n; j++) {
    let at = start + j * inner;
    ys[at] = ${log ? 'xs[at] - lse' : 'exp(xs[at] - m) / s'};
  }`;

const lineReduceCode = memo((t: string, fn: 'sum' | 'max' | 'min', arg: boolean) =>
  lineCode(t, arg ? 'i32' : t, lineReduceBody(t, fn, arg), winsCode(t, fn)),
);

const softmaxCode = memo((log: boolean) => lineCode('f32', 'f32', SOFTMAX(log)));

const cumsumCode = memo((t: string, exclusive: boolean, reverse: boolean) =>
  lineCode(
    t,
    t,
    `  var acc: ${t} = ${t === 'f32' ? '0.0' : '0'};
  for (var k = 0u; k < n; k++) {
    let j = ${reverse ? 'n - 1u - k' : 'k'};
    let at = start + j * inner;
    let v = xs[at];
    ${exclusive ? 'ys[at] = acc; acc = acc + v;' : 'acc = acc + v; ys[at] = acc;'}
  }`,
  ),
);

export function reduceKernels(
  rt: GpuRuntime,
): Pick<KernelTable<GPUBuffer>, 'reduce' | 'argReduce' | 'softmax' | 'logSoftmax' | 'cumsum'> {
  /** The two stages of a `split` plan: partials [outputs, chunks] (and their indices), then one per row. */
  const splitReduce = (
    data: GPUBuffer,
    result: GPUBuffer,
    plan: ReturnType<typeof reducePlan>,
    t: string,
    fn: 'sum' | 'max' | 'min',
    arg: boolean,
  ) => {
    const parts = plan.outputs * plan.chunks;
    const partial = rt.alloc(parts * 4);
    const meta = new Meta().u32(1, plan.n).u32(2, plan.chunks);
    const combine = new Meta().u32(1, plan.chunks);
    if (fn === 'sum') {
      runRows(rt, splitPartialCode(t, fn), meta, [data, partial], parts);
      runRows(rt, rowReduceCode(t, 'sum', false), combine, [partial, result], plan.outputs);
    } else {
      const partialAt = rt.alloc(parts * 4);
      runRows(rt, splitPartialCode(t, fn), meta, [data, partial, partialAt], parts);
      runRows(rt, splitCombineCode(t, fn, arg), combine, [partial, partialAt, result], plan.outputs);
      rt.free(partialAt);
    }
    rt.free(partial);
  };
  const rowReduce = (
    x: KernelInput<GPUBuffer>,
    axes: readonly number[],
    fn: 'sum' | 'max' | 'min',
    arg: boolean,
  ) => {
    const t = wgslType(x.dtype);
    const plan = reducePlan(x.shape, axes);
    if (plan.kind === 'lines' && plan.n > 0) {
      const code = lineReduceCode(t, fn, arg);
      const meta = new Meta().u32(1, plan.n).u32(2, plan.inner);
      const out = { shape: [plan.outputs], dtype: x.dtype };
      if (!plan.permute) return launch(rt, code, meta, [x.data], out, plan.outputs);
      const { data, temporary } = asRows(rt, x, axes);
      const result = launch(rt, code, meta, [data], out, plan.outputs);
      if (temporary) rt.free(data);
      return result;
    }
    const { data, temporary } = plan.permute ? asRows(rt, x, axes) : { data: x.data, temporary: false };
    const result = rt.alloc(plan.outputs * 4);
    if (plan.n === 0) rt.clear(result);
    else if (plan.kind === 'split') splitReduce(data, result, plan, t, fn, arg);
    else runRows(rt, rowReduceCode(t, fn, arg), new Meta().u32(1, plan.n), [data, result], plan.outputs);
    if (temporary) rt.free(data);
    return result;
  };
  return {
    reduce: ([x], { fn, axes }) => rowReduce(x!, axes, fn, false),
    argReduce: ([x], { fn, axis }) => rowReduce(x!, [axis], fn, true),
    softmax: ([x], { axis }, out) => {
      const { meta, lines } = lineMeta(x!.shape, axis);
      return launch(rt, softmaxCode(false), meta, [x!.data], out, lines);
    },
    logSoftmax: ([x], { axis }, out) => {
      const { meta, lines } = lineMeta(x!.shape, axis);
      return launch(rt, softmaxCode(true), meta, [x!.data], out, lines);
    },
    cumsum: ([x], { axis, exclusive, reverse }, out) => {
      const { meta, lines } = lineMeta(x!.shape, axis);
      return launch(rt, cumsumCode(wgslType(x!.dtype), exclusive, reverse), meta, [x!.data], out, lines);
    },
  };
}
