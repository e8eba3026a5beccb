// Reads an untrusted Hugging Face config.json one key at a time: types and ranges checked, every key accounted
// for (read, ignored on purpose, or refused), and each error naming the key and the architecture.
import { SwitchyardError } from '@switchyard/tensor';

/** A parsed Hugging Face `config.json`. */
export type HuggingFaceConfig = Record<string, unknown>;

/**
 * Keys every architecture may carry that change nothing Switchyard builds or computes in a forward pass:
 * bookkeeping (`transformers_version`, `torch_dtype`/`dtype`, `auto_map`, token ids), training-only settings
 * (dropouts, initialisation, balance and z-loss coefficients, router-logit outputs) and limits we do not enforce
 * (`max_position_embeddings`). They are accepted and dropped; `importHuggingFaceConfig` refuses any other key it
 * does not read.
 */
export const HUGGING_FACE_IGNORED_KEYS: readonly string[] = [
  'transformers_version',
  'torch_dtype',
  'dtype',
  'auto_map',
  'tokenizer_class',
  'use_cache',
  'return_dict',
  'output_hidden_states',
  'output_attentions',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
  'decoder_start_token_id',
  'is_encoder_decoder',
  'initializer_range',
  'initializer_factor',
  'pretraining_tp',
  'attention_dropout',
  'dropout_rate',
  'max_position_embeddings',
  'output_router_logits',
  'add_router_probs',
  'router_aux_loss_coef',
  'router_z_loss_coef',
  'aux_loss_alpha',
  'seq_aux',
  'ep_size',
];

const OP = 'importHuggingFaceConfig';

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
}

/**
 * One pass over a config.json: typed getters that record which keys were read, `unsupported` for keys whose
 * value Switchyard cannot reproduce, and `finish`, which refuses keys nobody read. Keys the caller lists in
 * `ignoreKeys` are exempt from both refusals and are reported in `approximated`.
 */
export class ConfigReader {
  readonly #json: HuggingFaceConfig;
  readonly #what: string;
  readonly #read = new Set<string>();
  readonly #ignore: ReadonlySet<string>;
  /** Keys whose value was not reproduced because the caller asked to ignore them. */
  readonly approximated: string[] = [];

  constructor(json: HuggingFaceConfig, what: string, ignoreKeys: readonly string[]) {
    this.#json = json;
    this.#what = what;
    this.#ignore = new Set(ignoreKeys);
    for (const key of HUGGING_FACE_IGNORED_KEYS) this.#read.add(key);
  }

  /** An INVALID_CONFIG error about `key`. */
  error(key: string, detail: string): SwitchyardError {
    return new SwitchyardError('INVALID_CONFIG', OP, `config.json of ${this.#what}: ${key} ${detail}`);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#json, key) && this.#json[key] !== undefined;
  }

  /** The raw value (undefined when absent), marking the key as read. */
  raw(key: string): unknown {
    this.#read.add(key);
    return Object.hasOwn(this.#json, key) ? this.#json[key] : undefined;
  }

  /** Marks keys as read without looking at them (keys a family drops on purpose). */
  skip(...keys: string[]): void {
    for (const key of keys) this.#read.add(key);
  }

  /** An integer >= `min`; `fallback` when absent (a missing key without fallback is an error). */
  int(key: string, fallback?: number, min = 1): number {
    const value = this.raw(key) ?? fallback;
    if (value === undefined) throw this.error(key, 'is missing');
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw this.error(key, `must be an integer >= ${min}, got ${show(value)}`);
    }
    return value;
  }

  /** An integer >= `min`, or null (explicitly null, or absent with a null fallback). */
  intOrNull(key: string, fallback: number | null, min = 1): number | null {
    const value = this.raw(key);
    if (value === null || (value === undefined && fallback === null)) return null;
    return this.int(key, fallback ?? undefined, min);
  }

  /** A finite number > 0 (>= 0 with `allowZero`). */
  number(key: string, fallback?: number, allowZero = false): number {
    const value = this.raw(key) ?? fallback;
    if (value === undefined) throw this.error(key, 'is missing');
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
      throw this.error(
        key,
        `must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${show(value)}`,
      );
    }
    return value;
  }

  bool(key: string, fallback?: boolean): boolean {
    const value = this.raw(key) ?? fallback;
    if (value === undefined) throw this.error(key, 'is missing');
    if (typeof value !== 'boolean') throw this.error(key, `must be true or false, got ${show(value)}`);
    return value;
  }

  /** One of `choices`. */
  choice<T extends string>(key: string, choices: readonly T[], fallback?: T): T {
    const value = this.raw(key) ?? fallback;
    if (value === undefined) throw this.error(key, 'is missing');
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      throw this.error(key, `must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${show(value)}`);
    }
    return value as T;
  }

  /** A list of integers >= 0 (absent: `fallback`). */
  intList(key: string, fallback: number[]): number[] {
    const value = this.raw(key) ?? fallback;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      throw this.error(key, `must be a list of non-negative integers, got ${show(value)}`);
    }
    return value as number[];
  }

  /**
   * Refuses a value Switchyard cannot reproduce (`supported(value)` false; absent keys are fine) with an
   * UNSUPPORTED error saying `why` — unless the caller listed the key in `ignoreKeys`, which imports without it.
   */
  unsupported(key: string, supported: (value: unknown) => boolean, why: string): void {
    const value = this.raw(key);
    if (value === undefined || supported(value)) return;
    if (this.#ignore.has(key)) {
      this.approximated.push(key);
      return;
    }
    throw new SwitchyardError(
      'UNSUPPORTED',
      OP,
      `config.json of ${this.#what}: ${key} = ${show(value)} is not supported: ${why}; pass ignoreKeys: ['${key}'] to import without it`,
    );
  }

  /** Refuses keys that were neither read nor listed in `ignoreKeys`; records the ignored ones. */
  finish(): void {
    const unknown: string[] = [];
    for (const key of Object.keys(this.#json)) {
      if (this.#read.has(key)) continue;
      if (this.#ignore.has(key)) this.approximated.push(key);
      else unknown.push(key);
    }
    if (unknown.length > 0) {
      throw new SwitchyardError(
        'UNSUPPORTED',
        OP,
        `config.json of ${this.#what}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; ` +
          `Switchyard cannot tell what ${unknown.length > 1 ? 'they change' : 'it changes'}. Pass ignoreKeys: [${unknown
            .map((k) => `'${k}'`)
            .join(', ')}] to import without ${unknown.length > 1 ? 'them' : 'it'}`,
      );
    }
  }
}
