import { sizeOf } from '../../../shape.js';
import type { KernelTable } from '../../backend.js';
import { run } from '../launch.js';
import type { GpuRuntime } from '../runtime.js';
import { Meta, main1d, memo, PRELUDE, storage } from '../wgsl.js';

/** Philox4x32-10 with 16-bit limb products: the same integer operations as `src/philox.ts`. */
const PHILOX = /* wgsl */ `
fn mulhi(a: u32, b: u32) -> u32 {
  let aLo = a & 0xffffu; let aHi = a >> 16u; let bLo = b & 0xffffu; let bHi = b >> 16u;
  let loLo = aLo * bLo; let loHi = aLo * bHi; let hiLo = aHi * bLo;
  let cross = (loLo >> 16u) + (loHi & 0xffffu) + (hiLo & 0xffffu);
  return aHi * bHi + (loHi >> 16u) + (hiLo >> 16u) + (cross >> 16u);
}
fn philox(key: vec2<u32>, counter: vec4<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var r = 0; r < 10; r++) {
    let hi0 = mulhi(0xd2511f53u, c.x); let lo0 = 0xd2511f53u * c.x;
    let hi1 = mulhi(0xcd9e8d57u, c.z); let lo1 = 0xcd9e8d57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}
fn unit(w: u32) -> f32 { return f32(w >> 8u) * 5.9604644775390625e-8; }
`;

function body(dist: 'uniform' | 'normal' | 'int'): string {
  const value =
    dist === 'uniform'
      ? 'unit(w[j])'
      : dist === 'int'
        ? 'bitcast<i32>(u(6u) + mulhi(w[j], u(7u)))'
        : `normal(w, j)`;
  return `  let lo = u(4u) + i;
  let carry = select(0u, 1u, lo < i);
  let w = philox(vec2<u32>(u(2u), u(3u)), vec4<u32>(lo, u(5u) + carry, 0u, 0u));
  for (var j = 0u; j < 4u; j++) {
    let at = i * 4u + j;
    if (at < u(1u)) { ys[at] = ${value}; }
  }`;
}

const NORMAL = /* wgsl */ `
fn normal(w: vec4<u32>, j: u32) -> f32 {
  let p = j & 2u;
  let u1 = unit(w[p]) + 5.9604644775390625e-8;
  let u2 = unit(w[p + 1u]);
  let r = sqrt(-2.0 * log(u1));
  let a = 6.283185307179586 * u2;
  return select(r * cos(a), r * sin(a), (j & 1u) == 1u);
}
`;

const randomCode = memo(
  (dist: 'uniform' | 'normal' | 'int') =>
    `${PRELUDE}${PHILOX}${dist === 'normal' ? NORMAL : ''}${storage([], ['ys', dist === 'int' ? 'i32' : 'f32'])}${main1d(body(dist))}`,
);

export function randomKernels(rt: GpuRuntime): Pick<KernelTable<GPUBuffer>, 'random'> {
  return {
    random: (_inputs, { dist, seed, stream, counter, low, high }, out) => {
      const n = sizeOf(out.shape);
      const result = rt.alloc(n * 4);
      const meta = new Meta()
        .u32(1, n)
        .u32(2, seed >>> 0)
        .u32(3, stream >>> 0)
        .u32(4, counter >>> 0)
        .u32(5, Math.floor(counter / 0x100000000) >>> 0)
        .u32(6, low >>> 0)
        .u32(7, (high - low) >>> 0);
      run(rt, randomCode(dist), meta, [result], Math.ceil(n / 4));
      return result;
    },
  };
}
