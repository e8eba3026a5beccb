// Moves one tensor between our layout and a Hugging Face checkpoint's, as its WeightRule says: transposes
// (torch's nn.Linear stores [out, in]), per-expert stacking, and DeepSeek's interleaved rotary rows.
import {
  cast,
  fmtShape,
  fromHost,
  gather,
  reshape,
  type SafetensorsEntry,
  SwitchyardError,
  split,
  stack,
  type Tensor,
  tensorFromSafetensors,
  transpose,
} from '@switchyard/tensor';
import { interleavedRowOrder, invertOrder, type WeightRule } from './weight-rule.js';

/** The checkpoint names of a rule. */
export function hfNames(rule: WeightRule): string[] {
  return rule.kind === 'experts' ? rule.hf : [rule.hf];
}

/** The shape each checkpoint tensor of `rule` has when ours has `shape`. */
export function hfShape(rule: WeightRule, shape: readonly number[]): number[] {
  if (rule.kind === 'same') return [...shape];
  if (rule.kind === 'linear') return [shape[1] as number, shape[0] as number];
  return [shape[2] as number, shape[1] as number];
}

const FLOATS = new Set(['F32', 'F16', 'BF16']);

/** One checkpoint tensor as f32 on the active backend, after checking its dtype and shape. */
function load(entry: SafetensorsEntry, expected: readonly number[], ours: string, op: string): Tensor {
  if (!FLOATS.has(entry.dtype)) {
    throw new SwitchyardError(
      'UNSUPPORTED',
      op,
      `tensor '${entry.name}' is ${entry.dtype}; weights must be F32, F16 or BF16`,
    );
  }
  if (entry.shape.join() !== expected.join()) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      op,
      `tensor '${entry.name}' is ${fmtShape(entry.shape)} but the config gives ${fmtShape(expected)} (for ${ours})`,
    );
  }
  return cast(tensorFromSafetensors(entry), 'f32');
}

/** For a `linear` rule with interleaved rows: the order as an i32 tensor, or null. */
function rowOrder(rule: WeightRule, rows: number, inverse: boolean): Tensor | null {
  if (rule.kind !== 'linear' || rule.rows === undefined) return null;
  const order = interleavedRowOrder(rows, rule.rows);
  return fromHost(inverse ? invertOrder(order) : order, [rows], 'i32');
}

/**
 * Our tensor of shape `shape` from the checkpoint `entries` of `rule` (call inside `tidy` and `noGrad`).
 * Dtype or shape mismatches are errors naming the checkpoint tensor and our path.
 */
export function toOurs(
  rule: WeightRule,
  entries: ReadonlyMap<string, SafetensorsEntry>,
  shape: readonly number[],
  op: string,
): Tensor {
  const expected = hfShape(rule, shape);
  const get = (name: string) => load(entries.get(name) as SafetensorsEntry, expected, rule.ours, op);
  if (rule.kind === 'same') return get(rule.hf);
  if (rule.kind === 'experts') return stack(rule.hf.map((name) => transpose(get(name))));
  const weight = get(rule.hf);
  const order = rowOrder(rule, expected[0] as number, false);
  return transpose(order === null ? weight : gather(weight, order));
}

/** The checkpoint tensors of `rule` from our tensor (call inside `tidy` and `noGrad`). */
export function toHF(rule: WeightRule, ours: Tensor): [string, Tensor][] {
  if (rule.kind === 'same') return [[rule.hf, ours]];
  if (rule.kind === 'linear') {
    const weight = transpose(ours);
    const order = rowOrder(rule, weight.shape[0] as number, true);
    return [[rule.hf, order === null ? weight : gather(weight, order)]];
  }
  const [, a, b] = ours.shape as [number, number, number];
  const perExpert = split(ours, ours.shape[0] as number, 0);
  return rule.hf.map((name, e) => [name, transpose(reshape(perExpert[e] as Tensor, [a, b]))]);
}
