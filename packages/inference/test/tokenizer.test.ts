// Tokenizers from a local tokenizer.json (a tiny byte-level BPE written by the test), and text generation
// with them: text prompts, streamed text, stop strings, EOS as the default stop token.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, type PresetName, scalePreset, tinyPreset } from '@switchyard/presets';
import { Generator } from '@switchyard/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generate,
  generateStream,
  loadTokenizer,
  type TextTokenizer,
  tokenizerFromJSON,
} from '../src/index.js';
import { expectRejects, TINY_TOKENIZER_CONFIG, tinyTokenizerJSON } from './helpers.js';

let dir = '';
let tokenizer: TextTokenizer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-tokenizer-'));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJSON()));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(TINY_TOKENIZER_CONFIG));
  tokenizer = await loadTokenizer(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A tiny preset's model whose vocabulary is the tokenizer's. */
function textModel(name: PresetName, vocabSize: number) {
  const config = scalePreset(tinyPreset(name), { name: `${name}-text`, embedding: { vocabSize } });
  return buildModel(config, { generator: new Generator(0) });
}

describe('tokenizer.json', () => {
  it('loads from a checkpoint directory or the file: byte-level BPE round trip and special ids', async () => {
    expect(tokenizer.vocabSize).toBe(270);
    expect([tokenizer.padId, tokenizer.bosId, tokenizer.eosId]).toEqual([0, 1, 2]);
    const ids = tokenizer.encode('hello world, the café');
    expect(ids[0]).toBe(1);
    expect(ids.slice(1, 3)).toEqual([tokenizer.tokenToId('hello'), tokenizer.tokenToId('Ġworld')]);
    expect(tokenizer.decode(ids)).toBe('hello world, the café');
    expect(tokenizer.decode(ids, { skipSpecialTokens: false })).toBe('<s>hello world, the café');
    expect(tokenizer.encode('hello', { addSpecialTokens: false })).toEqual([tokenizer.tokenToId('hello')]);
    const fromFile = await loadTokenizer(join(dir, 'tokenizer.json'));
    expect(fromFile.encode('the world')).toEqual(tokenizer.encode('the world'));
    expect(tokenizerFromJSON(tinyTokenizerJSON()).eosId).toBeNull();
  });

  it('reports missing and unreadable files', async () => {
    await expectRejects(loadTokenizer(join(dir, 'nothing-here')), 'INVALID_ARGUMENT', /no tokenizer at/);
    const broken = join(dir, 'broken');
    await mkdir(broken);
    await writeFile(join(broken, 'tokenizer.json'), '{"model": ');
    await expectRejects(loadTokenizer(broken), 'CORRUPT_FILE', /is not JSON/);
    await writeFile(join(broken, 'tokenizer.json'), '{"version": "1.0"}');
    await expectRejects(loadTokenizer(broken), 'CORRUPT_FILE', /could not be read/);
    expect(() => tokenizerFromJSON(tinyTokenizerJSON(), { eos_token: '<eos>' })).toThrow(
      /'<eos>' of tokenizer_config.json is not in the vocabulary/,
    );
  });
});

describe('text generation', () => {
  it('generates text from text prompts; the streamed pieces add up to the result', async () => {
    const model = textModel('mixtral-8x7b', tokenizer.vocabSize);
    const prompts = ['hello world', 'the'];
    const options = { maxNewTokens: 12, tokenizer, stopTokens: [] };
    const result = await generate(model, prompts, options);
    expect(result.promptTokens).toEqual([3, 3]); // <s> hello Ġworld, <s> t he
    expect(result.text).toEqual(result.tokens.map((ids) => tokenizer.decode(ids)));
    const streamed = ['', ''];
    for await (const step of generateStream(model, prompts, options)) {
      step.text!.forEach((piece, row) => {
        streamed[row] += piece;
      });
    }
    expect(streamed).toEqual(result.text);
    model.dispose();
  });

  it('stops at a stop string, cutting the text before it and never streaming it', async () => {
    const model = textModel('deepseek-v3', tokenizer.vocabSize);
    const options = { maxNewTokens: 16, tokenizer, stopTokens: [] };
    const free = await generate(model, ['hello'], options);
    const text = free.text![0]!;
    const stop = text.slice(4, 6);
    const cut = text.indexOf(stop);
    let streamed = '';
    let last = null;
    for await (const step of generateStream(model, ['hello'], { ...options, stopStrings: [stop] })) {
      streamed += step.text![0];
      last = step;
    }
    expect(last!.finished[0]).toBe('stop-string');
    expect(streamed).toBe(text.slice(0, cut));
    const result = await generate(model, ['hello'], { ...options, stopStrings: [stop] });
    expect(result.text![0]).toBe(text.slice(0, cut));
    expect(result.finishReasons).toEqual(['stop-string']);
    model.dispose();
  });

  it("stops at the tokenizer's EOS by default, leaving it out of the text", async () => {
    const model = textModel('qwen1.5-moe-a2.7b', tokenizer.vocabSize);
    const free = await generate(model, ['the world'], { maxNewTokens: 4, tokenizer, stopTokens: [] });
    const second = free.tokens[0]![1]!;
    const json = tinyTokenizerJSON() as { model: { vocab: Record<string, number> } };
    const token = Object.entries(json.model.vocab).find(([, id]) => id === second)![0];
    const withEos = tokenizerFromJSON(tinyTokenizerJSON(), { ...TINY_TOKENIZER_CONFIG, eos_token: token });
    const stopped = await generate(model, ['the world'], { maxNewTokens: 4, tokenizer: withEos });
    expect(stopped.tokens[0]).toEqual(free.tokens[0]!.slice(0, free.tokens[0]!.indexOf(second) + 1));
    expect(stopped.finishReasons).toEqual(['stop-token']);
    expect(stopped.text![0]).toBe(withEos.decode(stopped.tokens[0]!.slice(0, -1)));
    model.dispose();
  });

  it('encoder-decoders read text in the encoder and start the decoder from the pad id', async () => {
    const model = textModel('switch-base-8', tokenizer.vocabSize);
    const result = await generate(model, ['hello world', 'the café'], {
      maxNewTokens: 6,
      tokenizer,
      stopTokens: [],
      trace: true,
    });
    expect(result.tokens.map((r) => r.length)).toEqual([6, 6]);
    expect(result.trace![0]!.find((t) => t.stack === 'decoder')!.token).toBe(tokenizer.padId);
    expect(result.text).toEqual(result.tokens.map((ids) => tokenizer.decode(ids)));
    model.dispose();
  });

  it('refuses a tokenizer with more ids than the model', async () => {
    const model = textModel('mixtral-8x7b', 100);
    await expectRejects(
      generate(model, ['hi'], { maxNewTokens: 1, tokenizer }),
      'INVALID_ARGUMENT',
      /tokenizer has 270 ids but the model's vocabulary is 100/,
    );
    model.dispose();
  });
});
