// Expert offloading: the same tokens with experts resident or brought from a host, file or Blob store under
// a device budget smaller than the experts; the cache's statistics; the model's device copy released.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PresetName } from '@switchyard/presets';
import {
  fromBf16Bits,
  fromF16Bits,
  Generator,
  liveTensorCount,
  memory,
  toBf16Bits,
  toF16Bits,
} from '@switchyard/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ExpertStore,
  expertBytes,
  generate,
  HostExpertStore,
  offloadExperts,
  openExpertsFromOPFS,
  SafetensorsExpertStore,
  saveExperts,
  saveExpertsToOPFS,
  writeExperts,
} from '../src/index.js';
import { expectRejects, mixtralWith, tinyModel } from './helpers.js';

const PROMPTS = [
  [5, 17, 301, 42, 9],
  [77, 3],
];

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-experts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function totalExpertBytes(store: ExpertStore): number {
  return store.layers.reduce((n, l) => n + l.numExperts * expertBytes(l), 0);
}

describe('offloading', () => {
  it.each(['mixtral-8x7b', 'deepseek-v3', 'switch-base-8'] as PresetName[])(
    '%s: the same tokens with experts resident and offloaded (greedy and sampled, ample and tight budgets)',
    async (name) => {
      const sampling = () => ({ temperature: 1.2, topP: 0.95, generator: new Generator(3) });
      const resident = tinyModel(name);
      const greedy = await generate(resident, PROMPTS, { maxNewTokens: 6 });
      const sampled = await generate(resident, PROMPTS, { maxNewTokens: 6, sampling: sampling() });
      resident.dispose();
      for (const share of [1, 0.2]) {
        const model = tinyModel(name);
        const store = await HostExpertStore.fromModel(model);
        const one = Math.max(...store.layers.map(expertBytes));
        const budgetBytes = Math.max(one, Math.floor(totalExpertBytes(store) * share));
        const offload = await offloadExperts(model, { store, budgetBytes });
        const a = await generate(model, PROMPTS, { maxNewTokens: 6, offload });
        const b = await generate(model, PROMPTS, { maxNewTokens: 6, offload, sampling: sampling() });
        expect(a.tokens).toEqual(greedy.tokens);
        expect(b.tokens).toEqual(sampled.tokens);
        expect(a.experts!.peakBytes).toBeLessThanOrEqual(budgetBytes);
        await offload.dispose();
        model.dispose();
      }
    },
  );

  it('a model whose experts exceed the device budget still generates, and reports hits, misses and bytes moved', async () => {
    const model = mixtralWith(32);
    const store = await HostExpertStore.fromModel(model);
    const total = totalExpertBytes(store);
    const one = expertBytes(store.layers[0]!);
    expect(store.layers).toHaveLength(4);
    const deviceBefore = memory().bytes;
    const offload = await offloadExperts(model, { store, budgetBytes: 3 * one });
    // The model's own experts left the device: only the cache's budget may come back.
    expect(deviceBefore - memory().bytes).toBe(total);
    const tensorsBefore = liveTensorCount();
    const result = await generate(model, [[5, 17, 301, 42, 9], [77, 3, 250], [8]], {
      maxNewTokens: 8,
      offload,
    });
    const s = result.experts!;
    expect(result.tokens.every((row) => row.length === 8)).toBe(true);
    expect(s.budgetBytes).toBe(3 * one);
    expect(s.peakBytes).toBeLessThanOrEqual(3 * one);
    expect(s.requests).toBe(s.hits + s.misses);
    expect(s.misses).toBeGreaterThan(0);
    expect(s.evictions).toBeGreaterThan(0);
    expect(s.bytesMoved).toBeGreaterThanOrEqual(s.misses * one);
    expect(s.hitRate).toBeGreaterThanOrEqual(0);
    expect(s.hitRate).toBeLessThanOrEqual(1);
    expect(s.bytesMoved).toBeGreaterThan(total);
    console.log(
      `32 experts x 4 layers (${(total / 2 ** 20).toFixed(1)} MiB) under a ${(s.budgetBytes / 2 ** 20).toFixed(2)} MiB budget: ` +
        `${s.requests} requests, hit rate ${(100 * s.hitRate).toFixed(1)}% (${s.prefetchHits} from prefetch), ` +
        `${(s.bytesMoved / 2 ** 20).toFixed(1)} MiB moved, ${s.evictions} evictions`,
    );
    await offload.dispose();
    expect(liveTensorCount()).toBe(tensorsBefore);
    model.dispose();
  });

  it('prefetching the next layer from its router turns misses into hits; without it there are none', async () => {
    const runs = [];
    for (const prefetch of [true, false]) {
      const model = mixtralWith(16);
      const offload = await offloadExperts(model, { budgetBytes: 2 ** 30, prefetch });
      runs.push(await generate(model, PROMPTS, { maxNewTokens: 6, offload }));
      await offload.dispose();
      model.dispose();
    }
    const [on, off] = runs;
    expect(on!.tokens).toEqual(off!.tokens);
    expect(on!.experts!.prefetches).toBeGreaterThan(0);
    expect(on!.experts!.prefetchHits).toBeGreaterThan(0);
    expect(off!.experts!.prefetches).toBe(0);
    expect(off!.experts!.prefetchHits).toBe(0);
    expect(on!.experts!.hits).toBeGreaterThan(off!.experts!.hits);
  });

  it('reads experts from a safetensors file or a Blob: the same tokens', async () => {
    const resident = tinyModel('deepseek-v3');
    const expected = await generate(resident, PROMPTS, { maxNewTokens: 5 });
    const host = await HostExpertStore.fromModel(resident);
    const path = join(dir, 'experts.safetensors');
    const written = await saveExperts(path, host);
    const chunks: Uint8Array[] = [];
    expect(await writeExperts(host, (c) => chunks.push(c))).toBe(written);
    resident.dispose();
    for (const source of [path, new Blob(chunks as BlobPart[])]) {
      const model = tinyModel('deepseek-v3');
      const store = await SafetensorsExpertStore.open(source);
      expect(store.layers).toEqual(host.layers);
      const offload = await offloadExperts(model, { store, budgetBytes: 2 * expertBytes(store.layers[0]!) });
      const result = await generate(model, PROMPTS, { maxNewTokens: 5, offload });
      expect(result.tokens).toEqual(expected.tokens);
      await offload.dispose();
      await store.close(); // a store passed in stays the caller's
      model.dispose();
    }
  });

  it('refuses a budget below one expert, a store that does not match, and a model without MoE layers', async () => {
    const model = tinyModel('mixtral-8x7b');
    const store = await HostExpertStore.fromModel(model);
    const one = expertBytes(store.layers[0]!);
    await expectRejects(
      offloadExperts(model, { store, budgetBytes: one - 1 }),
      'INVALID_ARGUMENT',
      /cannot hold one expert/,
    );
    const small = mixtralWith(4);
    const other = await HostExpertStore.fromModel(small);
    await expectRejects(
      offloadExperts(model, { store: other, budgetBytes: 10 * one }),
      'INVALID_ARGUMENT',
      /numExperts \(4 vs 8\)/,
    );
    const glam = tinyModel('glam-0.1b-64e');
    const offGlam = await offloadExperts(glam, { budgetBytes: 2 ** 30 });
    await expectRejects(
      generate(model, PROMPTS, { maxNewTokens: 1, offload: offGlam }),
      'INVALID_ARGUMENT',
      /another model/,
    );
    const dense = tinyModel('dense-t5-base');
    await expectRejects(offloadExperts(dense, { budgetBytes: one }), 'INVALID_ARGUMENT', /no MoE layers/);
    await store.close();
    await expectRejects(store.read('decoder', 0, 0), 'INVALID_ARGUMENT', /closed/);
    await offGlam.dispose();
    for (const m of [model, glam, small, dense]) m.dispose();
  });
});

describe('SafetensorsExpertStore', () => {
  it('round-trips bf16 and f16 experts with round-to-nearest-even', async () => {
    const layers = [
      {
        stack: 'decoder' as const,
        layer: 1,
        numExperts: 2,
        dModel: 3,
        dHidden: 2,
        gated: false,
        dtype: 'bf16' as const,
      },
      {
        stack: 'decoder' as const,
        layer: 3,
        numExperts: 1,
        dModel: 3,
        dHidden: 2,
        gated: true,
        dtype: 'f16' as const,
      },
    ];
    const values = (seed: number) =>
      Float32Array.from({ length: 6 }, (_, i) => Math.PI * (seed + 1) * (i - 2.5) * 1e-3);
    const experts = new Map([
      ['decoder.1.0', { w1: values(0), w2: values(1), w3: null }],
      ['decoder.1.1', { w1: values(2), w2: values(3), w3: null }],
      ['decoder.3.0', { w1: values(4), w2: values(5), w3: values(6) }],
    ]);
    const chunks: Uint8Array[] = [];
    await writeExperts(new HostExpertStore(layers, experts), (c) => chunks.push(c));
    const store = await SafetensorsExpertStore.open(new Blob(chunks as BlobPart[]));
    const bf16 = await store.read('decoder', 1, 1);
    const f16 = await store.read('decoder', 3, 0);
    expect(Array.from(bf16.w1)).toEqual(Array.from(values(2), (v) => fromBf16Bits(toBf16Bits(v))));
    expect(Array.from(f16.w3!)).toEqual(Array.from(values(6), (v) => fromF16Bits(toF16Bits(v))));
    expect(Array.from(bf16.w1)).not.toEqual(Array.from(values(2)));
    expect(bf16.w3).toBeNull();
  });

  it('reports corrupt files: CORRUPT_FILE naming the problem', async () => {
    const model = tinyModel('mixtral-8x7b');
    const chunks: Uint8Array[] = [];
    await writeExperts(await HostExpertStore.fromModel(model), (c) => chunks.push(c));
    model.dispose();
    const good = new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
    const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLength)));
    const withHeader = (edit: (h: Record<string, unknown>) => void) => {
      const h = structuredClone(header);
      edit(h);
      const json = new TextEncoder().encode(JSON.stringify(h));
      const length = new Uint8Array(8);
      new DataView(length.buffer).setBigUint64(0, BigInt(json.length), true);
      return new Blob([length, json, good.subarray(8 + headerLength)] as BlobPart[]);
    };
    const name = 'decoder.blocks.2.ffn.experts.5.w2';
    const cases: [Blob, RegExp][] = [
      [new Blob([good.subarray(0, 4)] as BlobPart[]), /too short/],
      [new Blob([good.subarray(0, 8 + headerLength - 1)] as BlobPart[]), /runs past the end/],
      [
        new Blob([good.subarray(0, 8), new TextEncoder().encode('{not json')] as BlobPart[]),
        /runs past the end|not UTF-8 JSON/,
      ],
      [withHeader((h) => delete h.__metadata__), /metadata must hold format/],
      [withHeader((h) => delete h[name]), /tensor 'decoder.blocks.2.ffn.experts.5.w2' is missing/],
      [withHeader((h) => ((h[name] as { shape: number[] }).shape = [1, 2])), /must be F32/],
      [withHeader((h) => ((h[name] as { data_offsets: number[] }).data_offsets = [0, 4])), /data_offsets/],
      [
        withHeader((h) => {
          (h.__metadata__ as { layers: string }).layers = '[{"stack":"middle"}]';
        }),
        /stack middle/,
      ],
    ];
    for (const [blob, pattern] of cases)
      await expectRejects(SafetensorsExpertStore.open(blob), 'CORRUPT_FILE', pattern);
    const bad = join(dir, 'bad-header.safetensors');
    await writeFile(bad, new Uint8Array(8).fill(0xff));
    await expectRejects(SafetensorsExpertStore.open(bad), 'CORRUPT_FILE', /header length/);
  });
});

describe('origin-private file system', () => {
  it('saves experts to a directory handle and reads them back; outside a browser it is a clear error', async () => {
    const files = new Map<string, Blob>();
    const directory = {
      getFileHandle: async (name: string, options?: { create?: boolean }) => {
        if (!files.has(name) && !options?.create) throw new Error(`NotFoundError: ${name}`);
        return {
          getFile: async () => files.get(name) as Blob,
          createWritable: async () => {
            const parts: Uint8Array[] = [];
            return {
              write: async (chunk: Uint8Array) => {
                parts.push(chunk.slice());
              },
              close: async () => {
                files.set(name, new Blob(parts as BlobPart[]));
              },
              abort: async () => {},
            };
          },
        };
      },
    } as unknown as FileSystemDirectoryHandle;
    const model = tinyModel('deepseek-v3');
    const host = await HostExpertStore.fromModel(model);
    const bytes = await saveExpertsToOPFS('experts.safetensors', host, directory);
    expect(files.get('experts.safetensors')!.size).toBe(bytes);
    const store = await openExpertsFromOPFS('experts.safetensors', directory);
    expect(await store.read('decoder', 3, 7)).toEqual(await host.read('decoder', 3, 7));
    await expectRejects(
      openExpertsFromOPFS('experts.safetensors'),
      'BACKEND_UNAVAILABLE',
      /navigator.storage.getDirectory/,
    );
    model.dispose();
  });
});
