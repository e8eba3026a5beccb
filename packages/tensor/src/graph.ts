import type { DType } from './dtype.js';
import { invariant, SwitchyardError } from './errors.js';
import type { PrimitiveAttrs, PrimName } from './primitives.js';
import type { Shape } from './shape.js';
import type { Storage } from './storage.js';
import type { Tensor } from './tensor.js';

/** A tensor's storage held by the graph so backward can read it even after the tensor itself is disposed. */
export interface Saved {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** Where an input's cotangent goes: into one output of another node, into a leaf's `.grad`, or nowhere. */
export type Edge = { readonly node: GradNode; readonly output: number } | { readonly leaf: Tensor } | null;

/**
 * A recorded node lives while a tensor or a downstream node refers to it (`refs`); when the count reaches
 * zero, or after backward, its saved storages are released.
 */
interface NodeBase {
  /** One per input, in order. */
  readonly edges: readonly Edge[];
  refs: number;
}

/**
 * One recorded application of a primitive (PyTorch's grad_fn). It owns references to the storages of its
 * inputs and output, so intermediates may be disposed (by `tidy`) before backward.
 */
export interface PrimNode<P extends PrimName = PrimName> extends NodeBase {
  readonly kind: 'prim';
  readonly prim: P;
  readonly attrs: PrimitiveAttrs[P];
  saved: { inputs: Saved[]; output: Saved } | null;
}

/** The shape and dtype of a custom node's input or output. */
export interface Slot {
  readonly shape: Shape;
  readonly dtype: DType;
}

/**
 * Maps a custom node's output cotangents (one per output, zeros where none arrived) and handles on its saved
 * tensors to one cotangent per input (null for none), each a tensor the caller owns.
 */
export type CustomBackward = (
  dys: readonly Tensor[],
  saved: readonly Tensor[],
  needs: readonly boolean[],
) => (Tensor | null)[];

/**
 * One call of a `customGrad` function: a node with any number of outputs whose backward is a closure instead
 * of a primitive's VJP rule, so it needs no kernel. It owns the storages of the tensors the function saved.
 */
export interface CustomNode extends NodeBase {
  readonly kind: 'custom';
  /** The op name its errors carry. */
  readonly op: string;
  readonly inputs: readonly Slot[];
  /** Its outputs in order; a tensor finds its own by id. */
  readonly outputs: readonly (Slot & { readonly id: number })[];
  readonly backward: CustomBackward;
  /** Run backward with zero cotangents when no gradient reached the outputs. */
  readonly alwaysRun: boolean;
  saved: Saved[] | null;
}

export type GradNode = PrimNode | CustomNode;

export function save(t: Tensor): Saved {
  return { storage: t.storage.retain(), shape: t.shape, dtype: t.dtype };
}

/** Which output of its node `t` is (0 for primitives). */
export function outputIndex(t: Tensor): number {
  const node = t.node;
  if (!node || node.kind === 'prim') return 0;
  const k = node.outputs.findIndex((o) => o.id === t.id);
  invariant(k >= 0, node.op, `tensor #${t.id} is not an output of its node`);
  return k;
}

/** The edge from a node to input `t`, taking a reference on `t`'s node. */
export function edgeTo(t: Tensor): Edge {
  if (!t.requiresGrad) return null;
  if (!t.node) return { leaf: t };
  t.node.refs++;
  return { node: t.node, output: outputIndex(t) };
}

/** Creates the node for `out = prim(inputs)`; `out` holds the first reference. */
export function createNode<P extends PrimName>(
  prim: P,
  attrs: PrimitiveAttrs[P],
  inputs: readonly Tensor[],
  out: Tensor,
): PrimNode<P> {
  return {
    kind: 'prim',
    prim,
    attrs,
    edges: inputs.map(edgeTo),
    saved: { inputs: inputs.map(save), output: save(out) },
    refs: 1,
  };
}

/** Frees the storages a node saved (after backward, or when nothing refers to it any more). */
export function freeSaved(node: GradNode): void {
  if (!node.saved) return;
  if (node.kind === 'prim') {
    for (const s of node.saved.inputs) s.storage.release();
    node.saved.output.storage.release();
  } else {
    for (const s of node.saved) s.storage.release();
  }
  node.saved = null;
}

/** Drops one reference to `node`, releasing it and, transitively, the nodes only it kept alive. */
export function releaseNode(node: GradNode): void {
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop() as GradNode;
    if (--n.refs > 0) continue;
    freeSaved(n);
    for (const e of n.edges) if (e && 'node' in e) stack.push(e.node);
  }
}

export function savedOrThrow<N extends GradNode>(node: N): NonNullable<N['saved']> {
  if (!node.saved) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'backward',
      `the graph through ${node.kind === 'prim' ? node.prim : node.op} was already released by an earlier backward(); recompute the forward pass`,
    );
  }
  return node.saved as NonNullable<N['saved']>;
}
