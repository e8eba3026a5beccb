import { Tokenizer } from '@huggingface/tokenizers';
import { SwitchyardError } from '@switchyard/tensor';

/** Text to token ids and back, with the special ids generation needs. */
export interface TextTokenizer {
  /** One more than the largest id (added tokens included). */
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or null when the tokenizer has none. */
  readonly bosId: number | null;
  /** End-of-sequence id (generation stops on it by default), or null. */
  readonly eosId: number | null;
  /** Padding id, or null. */
  readonly padId: number | null;
  /** Token ids of `text`; special tokens (BOS, ...) added as the tokenizer's post-processor says unless turned off. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** The text of `ids`; special tokens skipped unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The id of a token string, or null. */
  tokenToId(token: string): number | null;
}

/** The content of a special-token entry of tokenizer_config.json (a string or an AddedToken object). */
function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return null;
}

/**
 * A tokenizer from the contents of a Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram; byte-level,
 * Metaspace and other pre-tokenizers and decoders) and, optionally, its `tokenizer_config.json`, whose
 * `bos_token`, `eos_token` and `pad_token` name the special ids. Built on `@huggingface/tokenizers` (pure
 * JavaScript, browser and Node). A file the library cannot read is a CORRUPT_FILE error.
 *
 * @example
 * ```ts
 * const tokenizer = tokenizerFromJSON(await (await fetch(url)).json(), { eos_token: '</s>' });
 * tokenizer.decode(tokenizer.encode('hello')); // 'hello'
 * ```
 */
export function tokenizerFromJSON(
  tokenizerJson: unknown,
  config: Record<string, unknown> = {},
): TextTokenizer {
  const op = 'tokenizerFromJSON';
  if (tokenizerJson === null || typeof tokenizerJson !== 'object' || Array.isArray(tokenizerJson)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      'tokenizerJson must be the parsed object of a tokenizer.json',
    );
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      'config must be the parsed object of a tokenizer_config.json',
    );
  }
  // The library needs these keys present; tokenizer.json files may leave out the parts they do not use.
  const filled = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    added_tokens: [],
    ...tokenizerJson,
  };
  let inner: Tokenizer;
  try {
    inner = new Tokenizer(filled, config);
  } catch (err) {
    throw new SwitchyardError(
      'CORRUPT_FILE',
      op,
      `tokenizer.json could not be read: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const idOf = (token: string | null) => (token === null ? null : (inner.token_to_id(token) ?? null));
  const special = (name: string) => {
    const token = tokenContent(config[name]);
    const id = idOf(token);
    if (token !== null && id === null) {
      throw new SwitchyardError(
        'CORRUPT_FILE',
        op,
        `${name} '${token}' of tokenizer_config.json is not in the vocabulary`,
      );
    }
    return id;
  };
  let vocabSize = 0;
  for (const id of inner.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  return {
    vocabSize,
    bosId: special('bos_token'),
    eosId: special('eos_token'),
    padId: special('pad_token'),
    encode: (text, options = {}) => {
      if (typeof text !== 'string') {
        throw new SwitchyardError(
          'INVALID_ARGUMENT',
          'TextTokenizer.encode',
          `text must be a string, got ${typeof text}`,
        );
      }
      return inner.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
    },
    decode: (ids, options = {}) =>
      inner.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true }),
    tokenToId: (token) => idOf(token),
  };
}

/**
 * Loads a tokenizer from a local checkpoint (Node): `path` is the checkpoint directory (holding
 * `tokenizer.json` and, optionally, `tokenizer_config.json`) or the `tokenizer.json` file itself.
 *
 * @example
 * ```ts
 * const tokenizer = await loadTokenizer('./Mixtral-8x7B-v0.1');
 * const ids = tokenizer.encode('The switchyard sends each car');
 * ```
 */
export async function loadTokenizer(path: string): Promise<TextTokenizer> {
  const op = 'loadTokenizer';
  if (typeof path !== 'string')
    throw new SwitchyardError('INVALID_ARGUMENT', op, `path must be a string, got ${typeof path}`);
  const { readFile, stat } = await import('node:fs/promises');
  const { dirname, join } = await import('node:path');
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `no tokenizer at ${path}`);
  }
  const dir = info.isDirectory() ? path : dirname(path);
  const file = info.isDirectory() ? join(path, 'tokenizer.json') : path;
  const parse = async (name: string, text: string) => {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new SwitchyardError(
        'CORRUPT_FILE',
        op,
        `${name} is not JSON: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  let json: string;
  try {
    json = await readFile(file, 'utf8');
  } catch {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `no tokenizer.json at ${file}`);
  }
  const configText = await readFile(join(dir, 'tokenizer_config.json'), 'utf8').catch(() => null);
  const config = configText === null ? {} : await parse(join(dir, 'tokenizer_config.json'), configText);
  return tokenizerFromJSON(await parse(file, json), config);
}
