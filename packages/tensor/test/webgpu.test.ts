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
