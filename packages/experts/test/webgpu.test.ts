// GroupedExperts on WebGPU (Dawn in Node; SwiftShader where there is no GPU): loop == grouped forward and
// backward, both equal to the CPU, and no leaked tensors or buffers; ModuleExperts' masked rows run there too. Runs whenever an adapter exists and prints
// a visible line when it skips; SWITCHYARD_REQUIRE_WEBGPU=1 turns a missing adapter into a failure.
// SwiftShader is an emulator: the shapes stay tiny.
import {
  type Backend,
  Generator,
  getBackend,
  liveTensorCount,
  setBackend,
  type Tensor,
  tensor,
  tidy,
  type WebGPUBackend,
} from '@switchyard/tensor';
import { expectSwitchyardError, webgpuForTests } from '@switchyard/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModuleExperts } from '../src/index.js';
import { FeatureConv } from './custom-experts.js';
import { type EquivalenceCase, runBothWays } from './equivalence.js';
import { hostNormal, randomCounts } from './reference.js';

const gpu = await webgpuForTests('experts WebGPU tests');
const available = gpu !== null;

/** f32 on both sides, summed in other orders: a little looser than CPU loop vs grouped. */
const TOLERANCE = { rtol: 1e-4, atol: 1e-5 };

describe.runIf(available)(`experts on WebGPU (${gpu?.describe() ?? 'unavailable'})`, () => {
  const backend = gpu as WebGPUBackend;
  let cpu: Backend = getBackend();
  beforeAll(() => {
    cpu = getBackend();
    setBackend(backend);
  });
  afterAll(() => {
    setBackend(cpu);
    backend.destroy();
  });

  const cases: EquivalenceCase[] = [
    {
      seed: 21,
      numExperts: 4,
      dModel: 4,
      dHidden: 3,
      activation: 'silu',
      gated: true,
      counts: randomCounts(21, 4, 7, 1),
      rows: 7,
    },
    {
      seed: 22,
      numExperts: 5,
      dModel: 3,
      dHidden: 4,
      activation: 'gelu',
      gated: false,
      counts: randomCounts(22, 5, 6, 2),
      rows: 6,
    },
  ];
  for (const c of cases) {
    it(`loop == grouped == CPU, forward and every gradient: E=${c.numExperts} counts [${c.counts}], rows ${c.rows}, ${c.gated ? 'gated' : 'plain'} ${c.activation}`, async () => {
      expect(c.counts).toContain(0);
      const live = liveTensorCount();
      const buffers = backend.memory().buffers;
      const onGpu = await runBothWays(c);
      expect(liveTensorCount(), 'tensors leaked').toBe(live);
      expect(backend.memory().buffers, 'buffers leaked').toBe(buffers);
      setBackend(cpu);
      const onCpu = await runBothWays(c).finally(() => setBackend(backend));
      const names = c.gated ? ['y', 'x', 'w1', 'w2', 'w3'] : ['y', 'x', 'w1', 'w2'];
      expect(Object.keys(onGpu.grouped)).toEqual(names);
      for (const name of names) {
        expect(onGpu.grouped[name], `${name}: grouped vs loop`).toAllClose(onGpu.loop[name]!, TOLERANCE);
        expect(onGpu.grouped[name], `${name}: WebGPU vs CPU`).toAllClose(onCpu.grouped[name]!, TOLERANCE);
      }
    });
  }

  it("ModuleExperts: rows 'masked' equals the CPU; rows 'segment' refuses with UNSUPPORTED", async () => {
    const counts = [2, 0, 3];
    const run = async (): Promise<Float32Array> => {
      const gen = new Generator(31);
      const experts = new ModuleExperts({
        experts: counts.map(() => new FeatureConv(3, 2, gen)),
        dModel: 4,
        rows: 'masked',
      });
      // Host-drawn values, identical on both backends (see hostNormal).
      const host = (seed: number, shape: readonly number[]) =>
        tensor(
          hostNormal(
            seed,
            shape.reduce((a, b) => a * b, 1),
          ),
          { shape },
        );
      tidy(() =>
        experts.loadStateDict(
          new Map(experts.namedParameters().map(([name, p], i) => [name, host(40 + i, p.shape)])),
        ),
      );
      const y = tidy(() => experts.forward(host(39, [6, 4]), tensor(counts, { dtype: 'i32' })));
      const values = (await y.data()) as Float32Array;
      y.dispose();
      experts.dispose();
      return values;
    };
    const live = liveTensorCount();
    const onGpu = await run();
    const experts = new ModuleExperts({ experts: [new FeatureConv(3, 2, new Generator(0))], dModel: 4 });
    expectSwitchyardError(
      () => tidy((): Tensor => experts.forward(tensor([[1, 2, 3, 4]]), tensor([1], { dtype: 'i32' }))),
      'UNSUPPORTED',
      /rows: 'segment' reads counts_E \[1\] on the host, which the webgpu backend cannot do synchronously/,
    );
    experts.dispose();
    expect(liveTensorCount(), 'tensors leaked').toBe(live);
    setBackend(cpu);
    const onCpu = await run().finally(() => setBackend(backend));
    expect(onGpu).toAllClose(onCpu, TOLERANCE);
  });
});
