// The demo's data: the synthetic four-domain mixture of @switchyard/train (arithmetic, code, prose, DNA),
// byte-tokenized and packed into rows, split into train and held-out sets before packing.
import {
  ByteTokenizer,
  PackedDataset,
  SYNTHETIC_DOMAINS,
  splitTrainEval,
  syntheticMixture,
} from '@switchyard/train';

export interface DemoData {
  readonly tokenizer: ByteTokenizer;
  readonly train: PackedDataset;
  readonly heldOut: PackedDataset;
  /** Domain names in id order (per-token domain ids index this list). */
  readonly domains: readonly string[];
}

/**
 * Builds the corpus: `samples` documents from `syntheticMixture` (seeded: the same seed gives the same
 * tokens on any machine), 10% of each domain held out, packed into rows of `seqLen` tokens.
 */
export function demoData(options: { samples: number; seqLen: number; seed: number }): DemoData {
  const tokenizer = new ByteTokenizer();
  const split = splitTrainEval(syntheticMixture({ samples: options.samples, seed: options.seed }), {
    evalFraction: 0.1,
    seed: options.seed,
  });
  const pack = (samples: typeof split.train) =>
    PackedDataset.fromSamples(samples, { tokenizer, seqLen: options.seqLen, domains: SYNTHETIC_DOMAINS });
  return { tokenizer, train: pack(split.train), heldOut: pack(split.eval), domains: SYNTHETIC_DOMAINS };
}
