// Shape letters: D model width, F expert hidden width, E experts.
import type { TransformerLM } from '@switchyard/presets';
import { SwitchyardError } from '@switchyard/tensor';
import {
  checkExpertIndex,
  checkHostExpert,
  checkLayerInfo,
  type ExpertLayerInfo,
  type ExpertStore,
  expertKey,
  findLayer,
  type HostExpert,
  type StackName,
} from './expert-store.js';
import { layerInfo, moeBlocks, stackedExperts } from './moe-blocks.js';

const OP = 'HostExpertStore';

/**
 * Experts in host (JavaScript) memory, off the device: the simplest `ExpertStore`. `fromModel` copies a
 * model's experts out of its stacked weights; the constructor takes weights a loader already holds.
 *
 * @example
 * ```ts
 * const store = await HostExpertStore.fromModel(model); // every expert of every MoE layer, on the host
 * const offload = await offloadExperts(model, { store, budgetBytes: 2 ** 20 });
 * ```
 */
export class HostExpertStore implements ExpertStore {
  readonly layers: readonly ExpertLayerInfo[];
  readonly #experts: Map<string, HostExpert>;
  #closed = false;

  /** A store of `layers`, with `experts` keyed by stack, layer and expert (see `expertKey`). */
  constructor(layers: readonly ExpertLayerInfo[], experts: ReadonlyMap<string, HostExpert>) {
    if (!Array.isArray(layers)) {
      throw new SwitchyardError('INVALID_ARGUMENT', OP, 'layers must be an array of ExpertLayerInfo');
    }
    this.layers = layers.map((l) => checkLayerInfo(l, OP, 'INVALID_ARGUMENT'));
    this.#experts = new Map();
    for (const info of this.layers) {
      for (let e = 0; e < info.numExperts; e++) {
        const key = expertKey(info.stack, info.layer, e);
        const weights = experts.get(key);
        if (!weights) {
          throw new SwitchyardError(
            'INVALID_ARGUMENT',
            OP,
            `no weights for expert ${e} of ${info.stack} block ${info.layer} (key '${key}')`,
          );
        }
        this.#experts.set(key, checkHostExpert(info, weights, OP));
      }
    }
  }

  /**
   * Copies every expert of every MoE layer of `model` to the host (reading the stacked weights back from
   * the device). The model keeps its own copy; `offloadExperts` releases it.
   */
  static async fromModel(model: TransformerLM): Promise<HostExpertStore> {
    const layers: ExpertLayerInfo[] = [];
    const experts = new Map<string, HostExpert>();
    for (const entry of moeBlocks(model)) {
      const stacked = stackedExperts(entry, 'HostExpertStore.fromModel');
      const info = layerInfo(entry, stacked);
      const df = info.dModel * info.dHidden;
      const [w1, w2, w3] = await Promise.all(
        [stacked.w1, stacked.w2, stacked.w3].map(async (w) =>
          w ? ((await w.data()) as Float32Array) : null,
        ),
      );
      for (let e = 0; e < info.numExperts; e++) {
        const part = (w: Float32Array | null | undefined) => (w ? w.slice(e * df, (e + 1) * df) : null);
        experts.set(expertKey(info.stack, info.layer, e), {
          w1: part(w1) as Float32Array,
          w2: part(w2) as Float32Array,
          w3: part(w3),
        });
      }
      layers.push(info);
    }
    return new HostExpertStore(layers, experts);
  }

  async read(stack: StackName, layer: number, expert: number): Promise<HostExpert> {
    if (this.#closed) throw new SwitchyardError('INVALID_ARGUMENT', OP, 'the store was closed');
    checkExpertIndex(findLayer(this, stack, layer, OP), expert, OP);
    return this.#experts.get(expertKey(stack, layer, expert)) as HostExpert;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#experts.clear();
  }
}
