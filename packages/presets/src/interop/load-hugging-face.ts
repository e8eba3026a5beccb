import {
  type Backend,
  Generator,
  getBackend,
  noGrad,
  type ParseSafetensorsOptions,
  parseSafetensors,
  type SafetensorsEntry,
  SwitchyardError,
  setBackend,
  tidy,
} from '@switchyard/tensor';
import { buildModel } from '../build/build-model.js';
import type { TransformerLM } from '../build/model.js';
import type { ModelConfig } from '../config.js';
import type { HuggingFaceConfig } from './config-reader.js';
import { hfNames, toOurs } from './convert-weights.js';
import {
  type ImportHuggingFaceConfigOptions,
  parseConfigJson,
  readHuggingFaceConfig,
} from './import-config.js';

const OP = 'loadHuggingFace';

/** A sharded checkpoint: `model.safetensors.index.json` and its shard files by name. */
export interface ShardedSafetensors {
  /** The index (text or parsed): `{ weight_map: { tensorName: shardFileName } }`. */
  index: HuggingFaceConfig | string;
  /** Every shard the index names, by file name (`model-00001-of-00002.safetensors`). */
  shards: Record<string, Uint8Array> | ReadonlyMap<string, Uint8Array>;
}

/** What `loadHuggingFace` reads: config.json, the weights, and the import options. */
export interface LoadHuggingFaceOptions extends ImportHuggingFaceConfigOptions {
  /** The checkpoint's `config.json`, as text or parsed. */
  config: HuggingFaceConfig | string;
  /** `model.safetensors`; several shard files (any order); or an index with its named shards. */
  safetensors: Uint8Array | readonly Uint8Array[] | ShardedSafetensors;
  /** Seeds the routers' training noise (Switch jitter); the weights all come from the checkpoint. Default seed 0. */
  generator?: Generator;
  /** The backend the weights are created on (default: the active one). */
  backend?: Backend;
  /** Passed to the safetensors parser (the largest accepted header). */
  parse?: ParseSafetensorsOptions;
}

function isBytes(value: unknown): value is Uint8Array {
  return Object.prototype.toString.call(value) === '[object Uint8Array]';
}

function invalid(detail: string): SwitchyardError {
  return new SwitchyardError('INVALID_ARGUMENT', OP, detail);
}

/** Adds a parsed file's tensors to `into`; a name in two files is an error. */
function addFile(
  into: Map<string, SafetensorsEntry>,
  bytes: Uint8Array,
  file: string,
  parse: ParseSafetensorsOptions,
): Map<string, SafetensorsEntry> {
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(bytes, parse);
  } catch (err) {
    if (!(err instanceof SwitchyardError)) throw err;
    throw new SwitchyardError(err.code, OP, `${file}: ${err.message}`);
  }
  for (const [name, entry] of parsed.tensors) {
    if (into.has(name)) throw invalid(`tensor '${name}' appears in more than one file (again in ${file})`);
    into.set(name, entry);
  }
  return parsed.tensors;
}

/** Every tensor of the checkpoint by name, parsed and bounds-checked (nothing allocated yet). */
function collectEntries(
  input: LoadHuggingFaceOptions['safetensors'],
  parse: ParseSafetensorsOptions,
): Map<string, SafetensorsEntry> {
  const entries = new Map<string, SafetensorsEntry>();
  if (isBytes(input)) {
    addFile(entries, input, 'model.safetensors', parse);
    return entries;
  }
  if (Array.isArray(input)) {
    input.forEach((bytes, i) => {
      if (!isBytes(bytes)) throw invalid(`safetensors[${i}] must be a Uint8Array`);
      addFile(entries, bytes, `shard ${i}`, parse);
    });
    return entries;
  }
  if (input === null || typeof input !== 'object' || !('index' in input) || !('shards' in input)) {
    throw invalid('safetensors must be a Uint8Array, a list of shards, or { index, shards }');
  }
  const { index, shards } = input as ShardedSafetensors;
  const weightMap = parseConfigJson(index, OP).weight_map;
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
    throw invalid('the safetensors index has no weight_map object');
  }
  const files = new Map(
    shards instanceof Map ? shards : Object.entries(shards as Record<string, Uint8Array>),
  );
  const named = new Set(Object.values(weightMap as Record<string, unknown>));
  for (const file of named) {
    if (typeof file !== 'string')
      throw invalid(`the index maps a tensor to ${JSON.stringify(file)}, not a file name`);
    const bytes = files.get(file);
    if (!isBytes(bytes)) throw invalid(`the index names shard '${file}', which was not given`);
    const own = addFile(entries, bytes, file, parse);
    for (const name of own.keys()) {
      if ((weightMap as Record<string, unknown>)[name] !== file) {
        throw invalid(`shard '${file}' holds tensor '${name}', which the index places elsewhere`);
      }
    }
  }
  for (const file of files.keys())
    if (!named.has(file)) throw invalid(`shard '${file}' is not named by the index`);
  for (const [name, file] of Object.entries(weightMap as Record<string, string>)) {
    if (!entries.has(name))
      throw invalid(`the index places tensor '${name}' in '${file}', which does not hold it`);
  }
  return entries;
}

function listed(names: string[]): string {
  const shown = names.slice(0, 6).join(', ');
  return names.length > 6 ? `${shown} and ${names.length - 6} more` : shown;
}

/**
 * Builds a model from a Hugging Face checkpoint: `config.json` (see `importHuggingFaceConfig`, whose options
 * it takes) and safetensors weights — one `model.safetensors`, a list of shards, or an index with its named
 * shards. F32, F16 and BF16 tensors load as f32 parameters. Each of our tensors comes from its checkpoint
 * name (per architecture: `huggingFaceWeightMap`): nn.Linear weights are transposed, per-expert tensors stacked
 * into `GroupedExperts`' [E, D, F] and [E, F, D] weights, DeepSeek's interleaved rotary rows reordered for our
 * rotate-half rotary, V3's `e_score_correction_bias` copied into the router's `expertBias`.
 *
 * Strict: a missing tensor, a tensor the model has no place for, a wrong shape or dtype, a name in two shards, a
 * shard the index does not name is an error naming the tensor. Skipped on purpose: DeepSeek-V3's MTP layers
 * (`model.layers.{L}`...), stored copies of a tied embedding (`encoder.embed_tokens`, `decoder.embed_tokens`,
 * a tied `lm_head`), rotary caches (`rotary_emb.inv_freq`). Files are parsed with every length and offset
 * bounds-checked before anything is allocated (a corrupt file is a CORRUPT_FILE error naming it).
 *
 * @example
 * ```ts
 * const { model, config } = loadHuggingFace({
 *   config: readFileSync('OLMoE-1B-7B-0924/config.json', 'utf8'),
 *   safetensors: { index: readFileSync('model.safetensors.index.json', 'utf8'), shards },
 * });
 * const { logits } = model.eval().forward({ ids });
 * ```
 */
export function loadHuggingFace(options: LoadHuggingFaceOptions): {
  model: TransformerLM;
  config: ModelConfig;
} {
  if (options === null || typeof options !== 'object') {
    throw invalid('options must be { config, safetensors, ignoreKeys?, name?, generator?, backend? }');
  }
  const { config, family, layout } = readHuggingFaceConfig(options.config, {
    ...(options.ignoreKeys ? { ignoreKeys: options.ignoreKeys } : {}),
    ...(options.name ? { name: options.name } : {}),
  });
  const entries = collectEntries(options.safetensors, options.parse ?? {});
  const rules = family.weightRules(config, layout);
  const used = new Set<string>();
  const missing: string[] = [];
  for (const rule of rules) {
    for (const name of hfNames(rule)) {
      used.add(name);
      if (!entries.has(name)) missing.push(`${name} (for ${rule.ours})`);
    }
  }
  if (missing.length > 0) {
    throw invalid(
      `the checkpoint lacks ${missing.length} tensor(s) ${config.name} needs: ${listed(missing)}`,
    );
  }
  const unexpected = [...entries.keys()].filter((name) => !used.has(name) && !family.skips(name, config));
  if (unexpected.length > 0) {
    throw invalid(
      `the checkpoint holds ${unexpected.length} tensor(s) ${family.architecture} with this config.json has no place for: ${listed(unexpected)}`,
    );
  }
  const model = buildModel(config, {
    generator: options.generator ?? new Generator(0),
    ...(options.backend ? { backend: options.backend } : {}),
  });
  const previous = getBackend();
  if (options.backend) setBackend(options.backend);
  try {
    const own = model.stateDict();
    for (const rule of rules) {
      const target = own.get(rule.ours);
      if (target === undefined) {
        throw new SwitchyardError(
          'INTERNAL',
          OP,
          `${family.architecture} maps ${rule.ours}, which the model lacks`,
        );
      }
      const value = tidy(() => noGrad(() => toOurs(rule, entries, target.shape, OP)));
      target.assign(value);
      value.dispose();
      own.delete(rule.ours);
    }
    if (own.size > 0) {
      throw new SwitchyardError(
        'INTERNAL',
        OP,
        `${family.architecture} leaves ${listed([...own.keys()])} unloaded`,
      );
    }
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    setBackend(previous);
  }
  return { model, config };
}
