/** Whose code a row measures: ours, the TensorFlow.js composition, or our dense matmul doing the same FLOPs. */
export type Impl = 'switchyard' | 'tfjs' | 'ideal';

/** Where it runs: `cpu` and `webgpu` for every impl; `wasm` is tfjs-backend-wasm (tfjs only). */
export type BackendId = 'cpu' | 'webgpu' | 'wasm';

/** The unit of a row's value; higher is better for both. */
export type Unit = 'GFLOP/s' | 'tokens/s';

/** Every backend, in the order tables and flags list them. */
export const BACKENDS: readonly BackendId[] = ['cpu', 'wasm', 'webgpu'];

/** Every impl, in the order tables list them. */
export const IMPLS: readonly Impl[] = ['switchyard', 'tfjs', 'ideal'];

/** What a case sees when it prepares one measurement. */
export interface CaseContext {
  readonly impl: Impl;
  readonly backend: BackendId;
  /** The reduced `--quick` set is running. */
  readonly quick: boolean;
  /** The WebGPU adapter is a software one (SwiftShader): big shapes are scaled down or skipped there. */
  readonly softwareGpu: boolean;
  /** TensorFlow.js, with `backend` already active when `impl` is `tfjs`. */
  readonly tf: typeof import('@tensorflow/tfjs-core');
}

/** One prepared measurement: inputs are built, `run` does the timed work once. */
export interface Measurable {
  /** What was measured, e.g. `1024x1024x1024` or `T=1024 D=512 F=1024 E=8 K=2`; recorded in the row. */
  readonly shape: string;
  /** Work per run in the case's unit numerator: FLOPs for GFLOP/s, tokens for tokens/s. */
  readonly work: number;
  /** Does the work once; the harness waits for the device queue after it, inside the timed region. */
  run(): void | Promise<void>;
  /** Frees the inputs and weights. */
  dispose(): void;
}

/**
 * A measurement that times itself: for work whose set-up cannot be kept out of a single run, such as starting
 * worker-thread ranks. `timed(runs)` does a warm-up and then `runs` timed repetitions, and returns the seconds
 * of each; the harness reports their median like any other row.
 */
export interface SelfTimed {
  readonly shape: string;
  readonly work: number;
  timed(runs: number): Promise<number[]>;
  dispose(): void;
}

/** A case that does not run for an (impl, backend), with the reason printed under the table. */
export interface Skip {
  readonly skip: string;
}

/**
 * One benchmark case. Its `name` is stable across runs (the JSON rows are keyed by it); the shape it runs at
 * may depend on the backend (see `CaseContext.softwareGpu`) and is recorded in every row.
 */
export interface BenchCase {
  readonly name: string;
  readonly unit: Unit;
  /** Part of the `--quick` set. */
  readonly quick: boolean;
  /** The impls this case compares (a plain matmul has no separate ideal). */
  readonly impls: readonly Impl[];
  /** Builds the inputs for one (impl, backend) on the already active backend. */
  prepare(ctx: CaseContext): Measurable | SelfTimed | Skip | Promise<Measurable | SelfTimed | Skip>;
}
