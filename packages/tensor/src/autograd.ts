import { isFloat } from './dtype.js';
import { keep, noGrad, tidy } from './engine.js';
import { fmtShape, SwitchyardError } from './errors.js';
import {
  type CustomNode,
  freeSaved,
  type GradNode,
  outputIndex,
  type PrimNode,
  type Saved,
  savedOrThrow,
} from './graph.js';
import { onesLike, zeros } from './ops/creation.js';
import { add } from './ops/elementwise.js';
import { Tensor } from './tensor.js';
import { type Rule, vjpRules } from './vjp.js';

/** Nodes reachable from `root`, each after every node it feeds (reverse topological order). */
function reverseTopological(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  const stack: [GradNode, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [n, expanded] = stack.pop() as [GradNode, boolean];
    if (expanded) {
      order.push(n);
      continue;
    }
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push([n, true]);
    for (const e of n.edges) if (e && 'node' in e && !seen.has(e.node)) stack.push([e.node, false]);
  }
  return order.reverse();
}

function alias(s: Saved): Tensor {
  return new Tensor(s.storage.retain(), s.shape, s.dtype);
}

/** Adds `g` into a leaf's `.grad` (kept out of every tidy scope). A disposed leaf receives nothing. */
function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.isDisposed) {
    g.dispose();
    return;
  }
  let total = g.dtype === leaf.dtype ? g : g.cast(leaf.dtype);
  if (leaf.grad) total = add(leaf.grad, total);
  if (total !== g) g.dispose();
  leaf.zeroGrad();
  leaf.grad = keep(total);
}

/** Adds `g` into the cotangent slot of `edge.output` of `edge.node`. */
function accumulateNode(
  grads: Map<GradNode, (Tensor | undefined)[]>,
  edge: { node: GradNode; output: number },
  g: Tensor,
): void {
  let slots = grads.get(edge.node);
  if (!slots) {
    slots = [];
    grads.set(edge.node, slots);
  }
  const prev = slots[edge.output];
  slots[edge.output] = prev ? add(prev, g) : g;
  if (prev) {
    prev.dispose();
    g.dispose();
  }
}

/** A primitive's input cotangents from its VJP rule. */
function primitiveGrads(node: PrimNode, g: Tensor): (Tensor | null)[] {
  const saved = savedOrThrow(node);
  const rule = vjpRules[node.prim] as Rule<typeof node.prim>;
  const needs = node.edges.map((e) => e !== null);
  return tidy(() => rule(g, saved.inputs.map(alias), alias(saved.output), node.attrs, needs));
}

/** A custom node's input cotangents; outputs no gradient reached get zeros. */
function customGrads(node: CustomNode, slots: readonly (Tensor | undefined)[]): (Tensor | null)[] {
  const saved = savedOrThrow(node);
  const needs = node.edges.map((e) => e !== null);
  return tidy(() =>
    node.backward(
      node.outputs.map((o, k) => slots[k] ?? zeros(o.shape, o.dtype)),
      saved.map(alias),
      needs,
    ),
  );
}

/**
 * Reverse-mode differentiation from `root`. Walks the recorded nodes in reverse topological order (a
 * deterministic function of the graph's structure), calls each primitive's VJP rule on the storages the node
 * saved (rules are written with ops, so they run on every backend) or a custom node's backward, and
 * accumulates into the `.grad` of leaves that require grad. A node no gradient reached is skipped, except a
 * custom node made with `alwaysRun`, whose backward runs with zero cotangents. Cotangents are disposed as soon
 * as they are consumed and each node's saved storages are released after use, so a second `backward()`
 * through the same graph is an error.
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!isFloat(root.dtype)) {
    throw new SwitchyardError(
      'NOT_DIFFERENTIABLE',
      'backward',
      `a ${root.dtype} output is not differentiable`,
    );
  }
  if (!root.requiresGrad) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'backward',
      `the tensor of shape ${fmtShape(root.shape)} does not require grad: no input had requiresGrad set`,
    );
  }
  if (seed && seed.shape.join() !== root.shape.join()) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'backward',
      `gradient is ${fmtShape(seed.shape)} but the output is ${fmtShape(root.shape)}`,
    );
  }
  if (!seed && root.size !== 1) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'backward',
      `an output of shape ${fmtShape(root.shape)} is not a scalar: pass its gradient explicitly`,
    );
  }
  noGrad(() => {
    if (root.node) savedOrThrow(root.node);
    const start = seed ? seed.detach() : onesLike(root);
    if (!root.node) {
      accumulateLeaf(root, start);
      return;
    }
    const grads = new Map<GradNode, (Tensor | undefined)[]>();
    accumulateNode(grads, { node: root.node, output: outputIndex(root) }, start);
    try {
      for (const node of reverseTopological(root.node)) {
        const slots = grads.get(node);
        if (!slots && !(node.kind === 'custom' && node.alwaysRun)) continue;
        grads.delete(node);
        // A rule may pass a cotangent through or return one tensor for several inputs: give each owner its
        // own handle.
        const handedOut = new Set<Tensor>();
        for (const g of slots ?? []) if (g) handedOut.add(g);
        try {
          const inputGrads =
            node.kind === 'prim'
              ? primitiveGrads(node, slots?.[0] as Tensor)
              : customGrads(node, slots ?? []);
          node.edges.forEach((edge, k) => {
            let gi = inputGrads[k];
            if (!edge || !gi) return;
            if (handedOut.has(gi)) gi = gi.detach();
            else handedOut.add(gi);
            if ('node' in edge) accumulateNode(grads, edge, gi);
            else accumulateLeaf(edge.leaf, gi);
          });
          for (const gi of inputGrads) if (gi && !handedOut.has(gi)) gi.dispose();
        } finally {
          for (const g of slots ?? []) g?.dispose();
        }
        freeSaved(node);
      }
    } finally {
      for (const slots of grads.values()) for (const g of slots) g?.dispose();
    }
  });
}

/**
 * Functional gradient: `valueAndGrad(f)(...xs)` returns `f(...xs)` (a scalar) and its gradient with respect to
 * each argument, without touching the arguments' `.grad`. Intermediates are disposed.
 */
export function valueAndGrad<A extends Tensor[]>(
  f: (...args: A) => Tensor,
): (...args: A) => { value: Tensor; grads: Tensor[] } {
  return (...args: A) =>
    tidy(() => {
      const leaves = args.map((x) => {
        if (!(x instanceof Tensor))
          throw new SwitchyardError('INVALID_ARGUMENT', 'valueAndGrad', 'every argument must be a Tensor');
        return x.detach().requireGrad();
      }) as A;
      const value = f(...leaves);
      if (!(value instanceof Tensor) || value.size !== 1) {
        throw new SwitchyardError(
          'INVALID_ARGUMENT',
          'valueAndGrad',
          'the function must return a scalar Tensor',
        );
      }
      const result = value.detach();
      if (value.requiresGrad) value.backward();
      const grads = leaves.map((leaf) => {
        // backward() keeps `.grad` out of every scope; a detached handle belongs to the caller's scope again.
        const g = leaf.grad ? leaf.grad.detach() : onesLike(leaf).mul(0);
        leaf.zeroGrad();
        return g;
      });
      return { value: result, grads };
    });
}
