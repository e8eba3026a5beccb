import { backward } from './autograd.js';
import { type AnyHostArray, type DType, isFloat } from './dtype.js';
import { nextTensorId, track, untrack } from './engine.js';
import { fmtShape, SwitchyardError } from './errors.js';
import { type GradNode, releaseNode } from './graph.js';
import { cast } from './ops/cast.js';
import * as ew from './ops/elementwise.js';
import * as layout from './ops/layout.js';
import { matmul } from './ops/linalg.js';
import { logSoftmax, softmax } from './ops/nn.js';
import * as red from './ops/reduce.js';
import { type Shape, sizeOf } from './shape.js';
import type { Storage } from './storage.js';

export type TensorLike = Tensor | number;

/** Nested arrays as returned by `array()`. */
export type NestedArray = number | boolean | NestedArray[];

/**
 * An n-dimensional array on a backend. Created by ops, never with `new` by users. Memory is explicit:
 * `dispose()` (or `using`), `tidy(fn)`, and `liveTensorCount()` to check for leaks.
 */
export class Tensor {
  readonly id = nextTensorId();
  readonly shape: readonly number[];
  /** @internal */
  storage: Storage;
  /** @internal the recorded node (a primitive or a customGrad call) that produced this tensor. */
  node: GradNode | null = null;
  /** Gradient filled by `backward()` for leaves that require grad. */
  grad: Tensor | null = null;
  #requiresGrad = false;
  #disposed = false;
  #dtype: DType;

  /** @internal */
  constructor(storage: Storage, shape: Shape, dtype: DType) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.#dtype = dtype;
    track(this);
  }

  get dtype(): DType {
    return this.#dtype;
  }

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Whether gradients flow to this tensor; only float tensors can require grad. */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  set requiresGrad(value: boolean) {
    if (value && !isFloat(this.#dtype)) {
      throw new SwitchyardError(
        'NOT_DIFFERENTIABLE',
        'requiresGrad',
        `a ${this.#dtype} tensor of shape ${fmtShape(this.shape)} is not differentiable; cast it to f32 first`,
      );
    }
    this.#requiresGrad = value;
  }

  /** Marks this tensor as a leaf that requires grad and returns it. */
  requireGrad(): this {
    this.requiresGrad = true;
    return this;
  }

  /** True for tensors not produced by a recorded primitive or custom-gradient function. */
  get isLeaf(): boolean {
    return this.node === null;
  }

  #check(op: string): void {
    if (this.#disposed) {
      throw new SwitchyardError(
        'USE_AFTER_DISPOSE',
        op,
        `tensor #${this.id} of shape ${fmtShape(this.shape)} was disposed`,
      );
    }
  }

  /** Reads the values (floats as Float32Array, i32 as Int32Array, bool as Uint8Array). */
  async data(): Promise<AnyHostArray> {
    this.#check('data');
    return this.storage.backend.read(this.storage.handle, this.#dtype, this.size);
  }

  /** Synchronous read; only backends that can honour it (CPU) support it. */
  dataSync(): AnyHostArray {
    this.#check('dataSync');
    const backend = this.storage.backend;
    if (!backend.readSync) {
      throw new SwitchyardError(
        'UNSUPPORTED',
        'dataSync',
        `the ${backend.name} backend reads asynchronously: use await data()`,
      );
    }
    return backend.readSync(this.storage.handle, this.#dtype, this.size);
  }

  /** Values as nested arrays (bools as booleans). */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.#dtype === 'bool');
  }

  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.#dtype === 'bool');
  }

  /** The single value of a size-1 tensor. */
  async item(): Promise<number> {
    return this.#single(await this.data());
  }

  itemSync(): number {
    return this.#single(this.dataSync());
  }

  #single(values: AnyHostArray): number {
    if (values.length !== 1) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        'item',
        `needs a tensor of size 1, got shape ${fmtShape(this.shape)}`,
      );
    }
    return values[0] as number;
  }

  /** Frees this tensor's storage (shared storage is freed with its last view). Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.storage.release();
    untrack(this);
    if (this.node) releaseNode(this.node);
    this.node = null;
    this.zeroGrad();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Back-propagates from this tensor: fills `.grad` of every leaf that requires grad (accumulating into
   * an existing `.grad`). A non-scalar tensor needs `gradient`, the cotangent of its shape.
   */
  backward(gradient?: Tensor): void {
    this.#check('backward');
    backward(this, gradient);
  }

  /** Disposes `.grad` and sets it to null (before the next accumulation). */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** A tensor sharing this storage, cut from the autograd graph. */
  detach(): Tensor {
    this.#check('detach');
    return new Tensor(this.storage.retain(), this.shape, this.#dtype);
  }

  /**
   * Replaces this tensor's values with `value`'s (same shape and dtype), sharing its storage; not recorded
   * by autograd. Optimizers update parameters this way.
   */
  assign(value: Tensor): this {
    this.#check('assign');
    if (value.isDisposed)
      throw new SwitchyardError('USE_AFTER_DISPOSE', 'assign', 'the new value was disposed');
    if (value.dtype !== this.#dtype || value.shape.join() !== this.shape.join()) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'assign',
        `value is ${value.dtype} ${fmtShape(value.shape)} but the tensor is ${this.#dtype} ${fmtShape(this.shape)}`,
      );
    }
    if (this.node)
      throw new SwitchyardError('INVALID_ARGUMENT', 'assign', 'only leaf tensors can be assigned');
    const old = this.storage;
    this.storage = value.storage.retain();
    old.release();
    return this;
  }

  toString(): string {
    return `Tensor(${this.#dtype} ${fmtShape(this.shape)}${this.#disposed ? ', disposed' : ''})`;
  }

  add(b: TensorLike): Tensor {
    return ew.add(this, b);
  }
  sub(b: TensorLike): Tensor {
    return ew.sub(this, b);
  }
  mul(b: TensorLike): Tensor {
    return ew.mul(this, b);
  }
  div(b: TensorLike): Tensor {
    return ew.div(this, b);
  }
  pow(b: TensorLike): Tensor {
    return ew.pow(this, b);
  }
  neg(): Tensor {
    return ew.neg(this);
  }
  exp(): Tensor {
    return ew.exp(this);
  }
  log(): Tensor {
    return ew.log(this);
  }
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  abs(): Tensor {
    return ew.abs(this);
  }
  square(): Tensor {
    return ew.square(this);
  }
  relu(): Tensor {
    return ew.relu(this);
  }
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  tanh(): Tensor {
    return ew.tanh(this);
  }
  eq(b: TensorLike): Tensor {
    return ew.equal(this, b);
  }
  gt(b: TensorLike): Tensor {
    return ew.greater(this, b);
  }
  lt(b: TensorLike): Tensor {
    return ew.less(this, b);
  }
  sum(axes?: number | number[], keepDims = false): Tensor {
    return red.sum(this, axes, keepDims);
  }
  mean(axes?: number | number[], keepDims = false): Tensor {
    return red.mean(this, axes, keepDims);
  }
  max(axes?: number | number[], keepDims = false): Tensor {
    return red.max(this, axes, keepDims);
  }
  min(axes?: number | number[], keepDims = false): Tensor {
    return red.min(this, axes, keepDims);
  }
  argmax(axis = -1, keepDims = false): Tensor {
    return red.argmax(this, axis, keepDims);
  }
  matmul(b: Tensor): Tensor {
    return matmul(this, b);
  }
  reshape(shape: readonly number[]): Tensor {
    return layout.reshape(this, shape);
  }
  transpose(perm?: readonly number[]): Tensor {
    return layout.transpose(this, perm);
  }
  softmax(axis = -1): Tensor {
    return softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return logSoftmax(this, axis);
  }
  cast(dtype: DType): Tensor {
    return cast(this, dtype);
  }
}

function nest(values: AnyHostArray, shape: Shape, asBool: boolean): NestedArray {
  const read = (i: number): number | boolean => (asBool ? values[i] !== 0 : (values[i] as number));
  if (shape.length === 0) return read(0);
  const build = (dim: number, offset: number): NestedArray[] => {
    const n = shape[dim] as number;
    const inner = sizeOf(shape.slice(dim + 1));
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(dim === shape.length - 1 ? read(offset + i) : build(dim + 1, offset + i * inner));
    }
    return out;
  };
  return build(0, 0);
}
