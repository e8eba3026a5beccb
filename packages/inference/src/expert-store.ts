// Shape letters: D model width, F expert hidden width, E experts.
import { type FloatDType, SwitchyardError } from '@switchyard/tensor';

/** Which stack of a model an MoE layer sits in. */
export type StackName = 'encoder' | 'decoder';

/** One MoE layer's experts as a store holds them: where the layer sits and what one expert is made of. */
export interface ExpertLayerInfo {
  readonly stack: StackName;
  /** Index of the block in its stack. */
  readonly layer: number;
  /** E. */
  readonly numExperts: number;
  /** D. */
  readonly dModel: number;
  /** F. */
  readonly dHidden: number;
  /** Whether each expert has the gate projection w3 (SwiGLU/GEGLU). */
  readonly gated: boolean;
  /** The dtype the weights are uploaded to the device as. */
  readonly dtype: FloatDType;
}

/** One expert's weights on the host, row-major as the model uses them: w1 [D, F], w2 [F, D], w3 [D, F]. */
export interface HostExpert {
  readonly w1: Float32Array;
  readonly w2: Float32Array;
  /** The gate projection of a gated unit, null otherwise. */
  readonly w3: Float32Array | null;
}

/**
 * Expert weights kept off the device: in host memory (`HostExpertStore`), in a file or a browser `Blob`
 * (`SafetensorsExpertStore`: a Node file, an OPFS file, an IndexedDB blob), or anywhere else a loader can
 * read one expert at a time. An `ExpertCache` brings experts to the device on demand.
 *
 * Implement it to serve experts straight from a checkpoint: `read` returns one expert of one layer in
 * Switchyard's layout (w1 [D, F], w2 [F, D], w3 [D, F] row-major, values as f32 on the host), transposing or
 * decoding the checkpoint's tensors as needed.
 */
export interface ExpertStore {
  /** One entry per MoE layer it holds. */
  readonly layers: readonly ExpertLayerInfo[];
  /** The weights of expert `expert` of the MoE block `layer` of `stack`. */
  read(stack: StackName, layer: number, expert: number): Promise<HostExpert>;
  /** Releases what the store holds open (files); reads afterwards are errors. */
  close(): Promise<void>;
}

/** Bytes per element of a float dtype on the device. */
export function dtypeBytes(dtype: FloatDType): number {
  return dtype === 'f32' ? 4 : 2;
}

/** Elements of one expert: D·F per projection, two or three projections. */
export function expertElements(info: ExpertLayerInfo): number {
  return info.dModel * info.dHidden * (info.gated ? 3 : 2);
}

/** Device bytes of one expert of a layer. */
export function expertBytes(info: ExpertLayerInfo): number {
  return expertElements(info) * dtypeBytes(info.dtype);
}

/** The key of one expert: `decoder.3.5` is expert 5 of decoder block 3. */
export function expertKey(stack: StackName, layer: number, expert: number): string {
  return `${stack}.${layer}.${expert}`;
}

/** The layer info of a store for a block, or an INVALID_ARGUMENT error naming what the store holds. */
export function findLayer(store: ExpertStore, stack: StackName, layer: number, op: string): ExpertLayerInfo {
  const info = store.layers.find((l) => l.stack === stack && l.layer === layer);
  if (!info) {
    const held = store.layers.map((l) => `${l.stack}.${l.layer}`).join(', ') || 'nothing';
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `the expert store holds no experts for ${stack} block ${layer} (it holds ${held})`,
    );
  }
  return info;
}

/** Checks `expert` is an index of the layer. */
export function checkExpertIndex(info: ExpertLayerInfo, expert: number, op: string): void {
  if (!Number.isInteger(expert) || expert < 0 || expert >= info.numExperts) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `expert must be an integer in [0, ${info.numExperts}) for ${info.stack} block ${info.layer}, got ${expert}`,
    );
  }
}

/** Checks a layer info is well formed (positive integer sizes, a float dtype). */
export function checkLayerInfo(
  value: unknown,
  op: string,
  code: 'INVALID_ARGUMENT' | 'CORRUPT_FILE',
): ExpertLayerInfo {
  const v = value as Partial<Record<keyof ExpertLayerInfo, unknown>> | null;
  const fail = (detail: string): never => {
    throw new SwitchyardError(code, op, `an expert layer ${detail}`);
  };
  if (v === null || typeof v !== 'object') return fail(`must be an object, got ${String(value)}`);
  if (v.stack !== 'encoder' && v.stack !== 'decoder') fail(`has stack ${String(v.stack)}`);
  for (const name of ['layer', 'numExperts', 'dModel', 'dHidden'] as const) {
    const n = v[name];
    const min = name === 'layer' ? 0 : 1;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) fail(`has ${name} ${String(n)}`);
  }
  if (typeof v.gated !== 'boolean') fail(`has gated ${String(v.gated)}`);
  if (v.dtype !== 'f32' && v.dtype !== 'f16' && v.dtype !== 'bf16') fail(`has dtype ${String(v.dtype)}`);
  return v as ExpertLayerInfo;
}

/** Checks host weights have the sizes the layer says. */
export function checkHostExpert(info: ExpertLayerInfo, weights: HostExpert, op: string): HostExpert {
  const df = info.dModel * info.dHidden;
  const ok = (w: unknown) => w instanceof Float32Array && w.length === df;
  if (!ok(weights?.w1) || !ok(weights?.w2) || (info.gated ? !ok(weights.w3) : weights.w3 !== null)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `an expert of ${info.stack} block ${info.layer} needs Float32Array w1, w2${info.gated ? ', w3' : ''} of ${df} values (D ${info.dModel} x F ${info.dHidden})${info.gated ? '' : ' and w3 null'}`,
    );
  }
  return weights;
}
