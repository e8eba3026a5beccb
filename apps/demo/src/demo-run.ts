// One model's training run, step by step (the CLI loops over it; the web page plays, pauses and steps it),
// and the analyses the report plots: held-out loss and load, expert usage by domain, each token's top expert,
// and the dropped fraction across capacity factors. Browser-safe: no Node imports.
import { type LanguageModel, LocalDispatcher } from '@switchyard/moe';
import { buildModel, countParameters, flopsPerToken } from '@switchyard/presets';
import { Generator, noGrad } from '@switchyard/tensor';
import {
  adamw,
  BatchLoader,
  cosineSchedule,
  disposeTensors,
  type EvalLog,
  type LoaderBatch,
  moeLayers,
  Optimizer,
  type StepLog,
  Trainer,
} from '@switchyard/train';
import type { DemoData } from './demo-data.js';
import type { DemoModel } from './demo-models.js';
import type { CapacityPoint, DomainUsage, RunReport, TokenExperts } from './report.js';

/** How every model trains: the same data, steps, batches and optimizer. */
export interface RunSettings {
  steps: number;
  batchSize: number;
  /** Peak learning rate of the cosine schedule (AdamW, weight decay 0.01, gradient clipping at 1). */
  lr: number;
  warmupSteps: number;
  seed: number;
  /** Held-out batches for the final evaluation and the analyses. */
  evalBatches: number;
}

/** Capacity factors of the dropped-fraction sweep. */
export const CAPACITY_FACTORS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3] as const;

const mean = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;

/** The steps the final train loss and dropped fraction average over: the last tenth of the run. */
const tail = <T>(values: readonly T[]) => values.slice(-Math.max(1, Math.ceil(values.length / 10)));

export class DemoRun {
  readonly model: LanguageModel;
  readonly logs: StepLog[] = [];
  readonly #spec: DemoModel;
  readonly #data: DemoData;
  readonly #settings: RunSettings;
  readonly #optimizer: Optimizer;
  readonly #trainer: Trainer;
  readonly #loader: BatchLoader;
  #seconds = 0;

  constructor(spec: DemoModel, data: DemoData, settings: RunSettings) {
    this.#spec = spec;
    this.#data = data;
    this.#settings = settings;
    this.model = buildModel(spec.config, { generator: new Generator(settings.seed) });
    this.#optimizer = new Optimizer(this.model, adamw({ weightDecay: 0.01 }), {
      lr: cosineSchedule({
        peak: settings.lr,
        warmupSteps: Math.min(settings.warmupSteps, settings.steps),
        totalSteps: Math.max(1, settings.steps),
      }),
    });
    this.#trainer = new Trainer({
      model: this.model,
      optimizer: this.#optimizer,
      clipNorm: 1,
      loss: spec.loss,
    });
    this.#loader = new BatchLoader(data.train, { batchSize: settings.batchSize, seed: settings.seed });
  }

  get spec(): DemoModel {
    return this.#spec;
  }

  /** Domain names in id order. */
  get domains(): readonly string[] {
    return this.#data.domains;
  }

  get done(): boolean {
    return this.logs.length >= this.#settings.steps;
  }

  /** Seconds spent in training steps so far. */
  get seconds(): number {
    return this.#seconds;
  }

  /** One optimizer step on the next training batch. */
  async step(): Promise<StepLog> {
    const log = await this.#trainer.trainStep([this.#loader.nextBatch()]);
    this.#seconds += log.seconds;
    this.logs.push(log);
    return log;
  }

  #heldOut(maxBatches = this.#settings.evalBatches): LoaderBatch[] {
    const loader = new BatchLoader(this.#data.heldOut, {
      batchSize: this.#settings.batchSize,
      seed: 0,
      shuffle: false,
      dropLast: false,
    });
    const batches: LoaderBatch[] = [];
    for (let i = 0; i < Math.min(maxBatches, loader.batchesPerEpoch); i++) batches.push(loader.nextBatch());
    return batches;
  }

  /** The held-out loss and routing stats, in evaluation mode. */
  evaluate(maxBatches = this.#settings.evalBatches): Promise<EvalLog> {
    return this.#trainer.evaluate(this.#heldOut(maxBatches));
  }

  /**
   * Held-out dropped fraction and loss with every MoE layer's capacity factor set to each of `factors`
   * (train and eval alike), the layers' own dispatchers restored afterwards. Dropless models are swept too:
   * the sweep shows what a capacity would cost them.
   */
  async capacitySweep(factors: readonly number[] = CAPACITY_FACTORS): Promise<CapacityPoint[]> {
    const layers = moeLayers(this.model).map(([, layer]) => layer);
    if (layers.length === 0) return [];
    const original = layers.map((l) => l.dispatcher);
    const points: CapacityPoint[] = [];
    try {
      for (const factor of factors) {
        for (const layer of layers) {
          layer.dispatcher = new LocalDispatcher({ capacityFactor: factor, evalCapacityFactor: factor });
        }
        const log = await this.evaluate(Math.min(4, this.#settings.evalBatches));
        points.push({
          capacityFactor: factor,
          droppedFraction: mean(log.routing.map((r) => r.droppedFraction)),
          evalLoss: log.loss.task,
        });
      }
    } finally {
      layers.forEach((layer, i) => {
        layer.dispatcher = original[i] ?? layer.dispatcher;
      });
    }
    return points;
  }

  /**
   * Routes the held-out batches in evaluation mode and counts, per MoE layer, the assignments each domain
   * sends to each expert; and for the first `rows` rows, each token's top expert (its largest combine weight)
   * per layer.
   */
  async analyse(rows = 2): Promise<{ domainUsage: DomainUsage[]; tokens: TokenExperts[] }> {
    const { domains, tokenizer } = this.#data;
    const wasTraining = this.model.training;
    this.model.eval();
    const usage: DomainUsage[] = [];
    const tokens: TokenExperts[] = [];
    const batches = this.#heldOut();
    try {
      for (const batch of batches) {
        const output = noGrad(() => this.model.forward(batch));
        try {
          const ids = (await batch.ids.data()) as Int32Array;
          const domainOf = (await (
            batch.domains as NonNullable<LoaderBatch['domains']>
          ).data()) as Int32Array;
          const [, seqLen] = batch.ids.shape as [number, number];
          const first = tokens.length === 0;
          if (first) {
            for (let r = 0; r < Math.min(rows, batch.ids.shape[0] as number); r++) {
              const rowIds = Array.from(ids.subarray(r * seqLen, (r + 1) * seqLen));
              tokens.push({
                text: rowIds.map((id) => tokenizer.decode([id]) || `⟨${id}⟩`),
                domains: Array.from(domainOf.subarray(r * seqLen, (r + 1) * seqLen)),
                topExpert: [],
              });
            }
          }
          for (const [l, entry] of output.moe.entries()) {
            const e = entry.routing.numExperts;
            const counts = (usage[l] ??= {
              layer: entry.layer,
              counts: domains.map(() => Array<number>(e).fill(0)),
            }).counts;
            const token_A = (await entry.routing.token_A.data()) as Int32Array;
            const expert_A = (await entry.routing.expert_A.data()) as Int32Array;
            const weight_A = (await entry.routing.weight_A.data()) as Float32Array;
            const best = new Float32Array(ids.length).fill(-1);
            const top = new Int32Array(ids.length).fill(-1);
            for (let a = 0; a < token_A.length; a++) {
              const t = token_A[a] as number;
              const w = weight_A[a] as number;
              const d = domainOf[t] as number;
              const row = counts[d];
              if (w > 0 && row) row[expert_A[a] as number] = (row[expert_A[a] as number] ?? 0) + 1;
              if (w > (best[t] as number)) {
                best[t] = w;
                top[t] = expert_A[a] as number;
              }
            }
            if (first) {
              tokens.forEach((row, r) => {
                row.topExpert[l] = Array.from(top.subarray(r * seqLen, (r + 1) * seqLen));
              });
            }
          }
        } finally {
          disposeTensors(output);
        }
      }
    } finally {
      disposeTensors(batches);
      this.model.train(wasTraining);
    }
    return { domainUsage: usage, tokens };
  }

  /** The run's report: parameters, FLOPs, losses, speed, load, drops, and the analyses. */
  async report(options: { capacity: boolean } = { capacity: true }): Promise<RunReport> {
    const { config, preset, from, changes } = this.#spec;
    const count = countParameters(config);
    const heldOut = await this.evaluate();
    const analysis = await this.analyse();
    const capacity = options.capacity ? await this.capacitySweep() : [];
    const sparse = heldOut.routing.length > 0;
    const trainLosses = this.logs.map((l) => l.loss.task);
    const tokens = this.logs.reduce((s, l) => s + l.tokens, 0);
    return {
      preset,
      from,
      changes,
      config,
      totalParams: count.total,
      activeParams: count.active,
      flopsPerToken: flopsPerToken(config, { seqLen: this.#data.train.seqLen }).forward,
      losses: trainLosses,
      finalLoss: mean(tail(trainLosses)),
      evalLoss: heldOut.loss.task,
      tokensPerSecond: tokens / Math.max(this.#seconds, 1e-9),
      maxMeanLoad: sparse ? mean(heldOut.routing.map((r) => r.maxMeanLoad)) : null,
      droppedFraction: sparse
        ? mean(tail(this.logs).map((l) => mean(l.routing.map((r) => r.droppedFraction))))
        : 0,
      routerEntropy: sparse ? mean(heldOut.routing.map((r) => r.routerEntropy)) : null,
      layers: heldOut.routing.map((r) => ({
        layer: r.layer,
        stack: r.stack,
        numExperts: r.tokensPerExpert.length,
      })),
      expertLoad: this.logs.map((l) => l.routing.map((r) => r.tokensPerExpert)),
      heldOutLoad: heldOut.routing.map((r) => r.tokensPerExpert),
      domainUsage: analysis.domainUsage,
      tokens: analysis.tokens,
      capacity,
    };
  }

  dispose(): void {
    this.#optimizer.dispose();
    this.model.dispose();
  }
}
