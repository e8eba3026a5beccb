// The conformance suite on the WebGPU backend (Dawn in Node; SwiftShader where there is no GPU). Runs whenever
// an adapter exists and prints a visible line when it skips; with SWITCHYARD_REQUIRE_WEBGPU=1
// (`npm run test:webgpu`) a missing adapter fails instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/backends/webgpu/webgpu-backend.js';
import { getBackend, liveTensorCount, setBackend, tidy } from '../src/engine.js';
import { Generator, groupedMatmul, init, matmul, mean, relu, square, sub, tensor } from '../src/index.js';
import { PRIMITIVE_NAMES } from '../src/primitives.js';
import { conformanceCases } from '../src/testing/conformance.js';
import { gradcheckCases } from '../src/testing/gradcheck-cases.js';
import { webgpuForTests } from '../src/testing/webgpu-for-tests.js';

const gpu = await webgpuForTests('WebGPU tests');
const available = gpu !== null;

/** SwiftShader and real GPUs compute in f32 with their own exp/log: looser than the CPU reference. */
const TOLERANCE = { rtol: 2e-4, atol: 2e-5 };
/** SwiftShader's sin and cos are accurate to about 1e-6, which central differences with eps 1e-3 amplify. */
const GRADCHECK_TOLERANCE = { atol: 3e-3 };

describe.runIf(available)(`WebGPU backend (${gpu?.describe() ?? 'unavailable'})`, () => {
  const backend = gpu as WebGPUBackend;
  const cases = conformanceCases(backend, TOLERANCE);
  afterAll(() => backend.destroy());

  describe('memory', () => {
    let previous = getBackend();
    beforeAll(() => {
      previous = getBackend();
      setBackend(backend);
    });
    afterAll(() => setBackend(previous));

    it('keeps live tensors, in-use and pooled GPU bytes flat over 100 forward/backward iterations', async () => {
      const gen = new Generator(1);
      const w1 = gen.normal([4, 6, 8], 0, 0.3).requireGrad();
      const w2 = gen.normal([8, 5], 0, 0.3).requireGrad();
      const x = gen.normal([12, 6]);
      const offsets = tensor([0, 3, 3, 9, 12], { dtype: 'i32' });
      const step = async () => {
        const loss = tidy(() => {
          const l = mean(square(matmul(relu(groupedMatmul(x, w1, offsets)), w2)));
          l.backward();
          for (const w of [w1, w2]) {
            w.assign(sub(w, w.grad!.mul(0.05)));
            w.zeroGrad();
          }
          return l;
        });
        const value = (await loss.data())[0] as number;
        loss.dispose();
        return value;
      };
      const first = await step();
      await step();
      const start = { live: liveTensorCount(), ...backend.memory() };
      let last = first;
      for (let i = 0; i < 100; i++) last = await step();
      expect({ live: liveTensorCount(), ...backend.memory() }).toEqual(start);
      expect(last).toBeLessThan(first);
      for (const t of [w1, w2, x, offsets]) t.dispose();
    });

    it('a long chain of large temporaries reuses its buffers instead of one new buffer per step', async () => {
      const bytes = 4 << 20;
      const x = new Generator(2).uniform([bytes / 4], 0, 1);
      await x.data();
      backend.runtime.trim();
      let y = x.add(0);
      for (let i = 0; i < 48; i++) {
        const next = y.mul(0.5).add(1);
        y.dispose();
        y = next;
      }
      const values = await y.data();
      // y = 2 - 2^-48 (1 - x) after 48 steps of y -> y / 2 + 1, from y = x.
      expect(values[0]).toBeCloseTo(2, 6);
      // 97 launches with a 4 MiB output each: submitting only every 64 launches pooled 68 MiB; submitting once
      // 32 MiB wait to return to the pool keeps it at about 32 MiB.
      expect(backend.memory().pooledBytes).toBeLessThan(48 << 20);
      for (const t of [x, y]) t.dispose();
    });
  });

  describe('gradchecks', () => {
    for (const c of gradcheckCases(backend, GRADCHECK_TOLERANCE)) it(c.name, () => c.run());
  });

  it('init selects it (auto prefers WebGPU) and says which adapter runs it', async () => {
    const previous = getBackend();
    const chosen = await init({ backend: 'auto' });
    expect(chosen.backend).toBe('webgpu');
    expect(chosen.description).toMatch(/^webgpu on /);
    chosen.destroy();
    setBackend(previous);
  });

  it('covers every primitive', () => {
    const covered = new Set(cases.map((c) => c.primitive));
    expect(PRIMITIVE_NAMES.filter((p) => !covered.has(p))).toEqual([]);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const live = liveTensorCount();
      const buffers = backend.memory().buffers;
      await c.run();
      expect(liveTensorCount(), 'tensors leaked by the case').toBe(live);
      expect(backend.memory().buffers, 'buffers leaked by the case').toBe(buffers);
    });
  }
});
