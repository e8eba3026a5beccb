// Shape letters (DESIGN.md §3):
//   R  routed rows, grouped by expert: expert e owns rows [offsets[e], offsets[e + 1])
//   D  model width
//   E  experts; E1 the E + 1 segment offsets
import {
  type AnyHostArray,
  fmtShape,
  getBackend,
  greaterEqual,
  isFloat,
  less,
  logicalAnd,
  reshape,
  SwitchyardError,
  slice,
  Tensor,
} from '@switchyard/tensor';

/**
 * Validates the `forward(routed_RD, counts_E)` arguments shared by every experts container: `routed_RD` float
 * [R, D], `counts_E` i32 [E]. On backends with synchronous reads (CPU) the counts are read, checked to be
 * non-negative and to sum to at most R, and returned; elsewhere (WebGPU) nothing is read back and the result
 * is null.
 */
export function checkRoutedRows(
  op: string,
  routed_RD: Tensor,
  counts_E: Tensor,
  numExperts: number,
  dModel: number,
): AnyHostArray | null {
  if (!(routed_RD instanceof Tensor) || !(counts_E instanceof Tensor)) {
    throw new SwitchyardError('INVALID_ARGUMENT', op, 'routed_RD and counts_E must be Tensors');
  }
  if (routed_RD.rank !== 2 || routed_RD.shape[1] !== dModel) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      op,
      `routed_RD must be [R, ${dModel}], got ${fmtShape(routed_RD.shape)}`,
    );
  }
  if (!isFloat(routed_RD.dtype)) {
    throw new SwitchyardError(
      'DTYPE_MISMATCH',
      op,
      `routed_RD must be a float tensor, got ${routed_RD.dtype} ${fmtShape(routed_RD.shape)}`,
    );
  }
  if (counts_E.dtype !== 'i32') {
    throw new SwitchyardError(
      'DTYPE_MISMATCH',
      op,
      `counts_E must be i32, got ${counts_E.dtype} ${fmtShape(counts_E.shape)}`,
    );
  }
  if (counts_E.rank !== 1 || counts_E.shape[0] !== numExperts) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      op,
      `counts_E must be [${numExperts}] (one count per expert), got ${fmtShape(counts_E.shape)}`,
    );
  }
  if (getBackend().readSync === undefined) return null;
  const counts = counts_E.dataSync();
  const rows = routed_RD.shape[0] as number;
  let total = 0;
  for (let e = 0; e < counts.length; e++) {
    const c = counts[e] as number;
    if (c < 0) {
      throw new SwitchyardError('INVALID_ARGUMENT', op, `counts_E[${e}] = ${c} is negative`);
    }
    total += c;
  }
  if (total > rows) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `counts_E sums to ${total} but routed_RD has only ${rows} rows ${fmtShape(routed_RD.shape)}`,
    );
  }
  return counts;
}

/**
 * Expert e's rows as a bool mask [R, 1]: `offsets[e] <= r < offsets[e + 1]` for `row_R = arange(R)`, built on
 * the device, so the counts are never read on the host.
 */
export function segmentMask(offsets_E1: Tensor, e: number, row_R: Tensor): Tensor {
  const start_1 = slice(offsets_E1, [e], [1]);
  const end_1 = slice(offsets_E1, [e + 1], [1]);
  return reshape(logicalAnd(greaterEqual(row_R, start_1), less(row_R, end_1)), [row_R.size, 1]);
}
