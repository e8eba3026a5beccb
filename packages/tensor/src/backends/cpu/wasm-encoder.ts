// A minimal WebAssembly binary encoder: just the sections and opcodes the CPU kernels (GEMM, vector math) need, so its module can be
// built from TypeScript at run time without a toolchain. Opcode values and section layout follow the
// WebAssembly core specification (binary format, chapter 5) and the SIMD and relaxed-SIMD proposals.

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

/** Scalar instructions without immediates that pop their operands and push one value. */
const SCALAR = {
  i32Eq: 0x46,
  i32LtS: 0x48,
  i32GtS: 0x4a,
  i32GeS: 0x4e,
  i32LeU: 0x4d,
  i32GeU: 0x4f,
  i32GtU: 0x4b,
  i32DivU: 0x6e,
  f32Eq: 0x5b,
  f32Ne: 0x5c,
  f32Gt: 0x5e,
  f32Ge: 0x60,
  i32Or: 0x72,
  i32Shl: 0x74,
} as const;
export type ScalarOp = keyof typeof SCALAR;

/** Unsigned LEB128. */
function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function utf8(name: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(name));
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** SIMD opcodes (after the 0xfd prefix). */
const SIMD = {
  load: 0x00,
  load32Splat: 0x09,
  store: 0x0b,
  const: 0x0c,
  shuffle: 0x0d,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Eq: 0x41,
  f32x4Ne: 0x42,
  f32x4Lt: 0x43,
  f32x4Gt: 0x44,
  f32x4Ge: 0x46,
  v128And: 0x4e,
  v128Or: 0x50,
  bitselect: 0x52,
  v128AnyTrue: 0x53,
  i32x4AllTrue: 0xa3,
  f32x4Nearest: 0x6a,
  i32x4Shl: 0xab,
  i32x4ShrS: 0xac,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  f32x4Pmin: 0xea,
  f32x4Pmax: 0xeb,
  i32x4TruncSatF32x4S: 0xf8,
  f32x4ConvertI32x4S: 0xfa,
  f32x4RelaxedMadd: 0x105,
} as const;

/** The element-wise f32x4 and i32x4 instructions that pop their operands and push one vector. */
export type VectorOp =
  | 'f32x4Eq'
  | 'f32x4Ne'
  | 'f32x4Lt'
  | 'f32x4Gt'
  | 'f32x4Ge'
  | 'v128And'
  | 'v128Or'
  | 'bitselect'
  | 'f32x4Nearest'
  | 'i32x4Shl'
  | 'i32x4ShrS'
  | 'i32x4Add'
  | 'i32x4Sub'
  | 'f32x4Abs'
  | 'f32x4Neg'
  | 'f32x4Add'
  | 'f32x4Sub'
  | 'f32x4Mul'
  | 'f32x4Div'
  | 'f32x4Min'
  | 'f32x4Max'
  | 'f32x4Pmin'
  | 'f32x4Pmax'
  | 'i32x4TruncSatF32x4S'
  | 'f32x4ConvertI32x4S';

/**
 * A function body under construction: each method appends one instruction and returns `this`, so a body reads
 * as the stack-machine program it is. Locals are numbered after the parameters, in `local()` call order.
 */
export class FunctionBody {
  private readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(private readonly paramCount: number) {}

  /** Declares a local of `type` and returns its index. Locals start zeroed. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.paramCount + this.locals.length - 1;
  }

  /** Pushes each local in turn. */
  get(...locals: number[]): this {
    for (const index of locals) this.emit(0x20, ...uleb(index));
    return this;
  }

  set(index: number): this {
    return this.emit(0x21, ...uleb(index));
  }

  /** `local += value` (i32). */
  bump(local: number, value: number): this {
    return this.get(local).i32(value).add().set(local);
  }

  i32(value: number): this {
    return this.emit(0x41, ...sleb(value));
  }

  add(): this {
    return this.emit(0x6a);
  }

  sub(): this {
    return this.emit(0x6b);
  }

  mul(): this {
    return this.emit(0x6c);
  }

  /** i32.and */
  and(): this {
    return this.emit(0x71);
  }

  /** i32.lt_u */
  ltU(): this {
    return this.emit(0x49);
  }

  /** i32.shr_s */
  shrS(): this {
    return this.emit(0x75);
  }

  /** i32.eqz */
  eqz(): this {
    return this.emit(0x45);
  }

  /** Pops c, b, a and pushes `c ? a : b`. */
  select(): this {
    return this.emit(0x1b);
  }

  call(func: number): this {
    return this.emit(0x10, ...uleb(func));
  }

  /** `block` with no result; `br` to it jumps past its `end`. */
  block(): this {
    return this.emit(0x02, 0x40);
  }

  /** `loop` with no result; `br` to it jumps back to its start. */
  loop(): this {
    return this.emit(0x03, 0x40);
  }

  /** `if` with no result. */
  if(): this {
    return this.emit(0x04, 0x40);
  }

  end(): this {
    return this.emit(0x0b);
  }

  /** Branches to the enclosing label `depth` levels out (0 = innermost). */
  br(depth: number): this {
    return this.emit(0x0c, ...uleb(depth));
  }

  /** One scalar comparison, `or` or shift (see SCALAR). */
  scalar(op: ScalarOp): this {
    return this.emit(SCALAR[op]);
  }

  /** i32.store at address + offset (bytes): pops the value, then the address. */
  i32Store(offset: number): this {
    return this.emit(0x36, 2, ...uleb(offset));
  }

  /** Branches to the enclosing label `depth` levels out (0 = innermost) when the popped i32 is non-zero. */
  brIf(depth: number): this {
    return this.emit(0x0d, ...uleb(depth));
  }

  /** Drops the value on top of the stack. */
  drop(): this {
    return this.emit(0x1a);
  }

  /** i32.load at address + offset (bytes). */
  i32Load(offset: number): this {
    return this.emit(0x28, 2, ...uleb(offset));
  }

  /** f32.load at address + offset (bytes). */
  f32Load(offset: number): this {
    return this.emit(0x2a, 2, ...uleb(offset));
  }

  /** f32.store at address + offset (bytes). */
  f32Store(offset: number): this {
    return this.emit(0x38, 2, ...uleb(offset));
  }

  /** v128.load at address + offset (bytes). */
  v128Load(offset: number): this {
    return this.simd(SIMD.load, 4, offset);
  }

  /** v128.store at address + offset (bytes). */
  v128Store(offset: number): this {
    return this.simd(SIMD.store, 4, offset);
  }

  /** v128.load32_splat: one f32 at address + offset broadcast to four lanes. */
  loadSplat(offset: number): this {
    return this.simd(SIMD.load32Splat, 2, offset);
  }

  /** i8x16.shuffle: pops b, a and pushes the 16 bytes `lanes` selects from a (0-15) and b (16-31). */
  shuffle(lanes: readonly number[]): this {
    return this.emit(0xfd, ...uleb(SIMD.shuffle), ...lanes);
  }

  f32x4Add(): this {
    return this.simd(SIMD.f32x4Add);
  }

  f32x4Mul(): this {
    return this.simd(SIMD.f32x4Mul);
  }

  /** One element-wise vector instruction (`bitselect` pops mask, b, a and pushes `mask ? a : b` bitwise). */
  vector(op: VectorOp): this {
    return this.simd(SIMD[op]);
  }

  /** v128.any_true: pops a vector and pushes i32 1 when any of its bits is set, else 0. */
  anyTrue(): this {
    return this.simd(SIMD.v128AnyTrue);
  }

  /** f32x4.extract_lane: pops a vector and pushes its f32 lane `lane`. */
  extractLane(lane: number): this {
    return this.simd(SIMD.f32x4ExtractLane).emit(lane);
  }

  /** f32x4.splat: pops an f32 and pushes it in four lanes. */
  splat(): this {
    return this.simd(SIMD.f32x4Splat);
  }

  /** i32x4.all_true: pops a vector and pushes i32 1 when each of its lanes is non-zero, else 0. */
  allTrue(): this {
    return this.simd(SIMD.i32x4AllTrue);
  }

  /** v128.const of four equal f32 lanes. */
  f32x4Const(value: number): this {
    const lane = new Uint8Array(new Float32Array([value]).buffer);
    return this.simd(SIMD.const).emit(...lane, ...lane, ...lane, ...lane);
  }

  /** v128.const of four equal i32 lanes. */
  i32x4Const(value: number): this {
    const lane = new Uint8Array(new Int32Array([value]).buffer);
    return this.simd(SIMD.const).emit(...lane, ...lane, ...lane, ...lane);
  }

  /** f32x4.relaxed_madd: pops c, b, a and pushes a * b + c, fused or not as the hardware prefers. */
  f32x4RelaxedMadd(): this {
    return this.simd(SIMD.f32x4RelaxedMadd);
  }

  /** The encoded body: local declarations, instructions, final `end`. */
  encode(): number[] {
    const groups: number[][] = [];
    for (const type of this.locals) {
      const last = groups.at(-1);
      if (last && last[1] === type) last[0] = (last[0] as number) + 1;
      else groups.push([1, type]);
    }
    const body = [...vec(groups.map(([n, t]) => [...uleb(n as number), t as number])), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }

  private simd(op: number, alignLog2?: number, offset?: number): this {
    const memarg = alignLog2 === undefined ? [] : [...uleb(alignLog2), ...uleb(offset ?? 0)];
    return this.emit(0xfd, ...uleb(op), ...memarg);
  }

  private emit(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
}

/** One function of a module: its signature, its body, and the export name if it is exported. */
export interface FunctionDef {
  params: ValType[];
  body: FunctionBody;
  export?: string;
}

/**
 * Encodes a module that imports its memory as `env.memory` and defines `functions` (indices in array order,
 * so a body may `call` any of them). Each function returns nothing. With `sharedMaxPages` the memory is
 * imported as shared with that maximum (a shared memory must be imported as shared, and declare a maximum).
 */
export function encodeModule(functions: FunctionDef[], sharedMaxPages?: number): Uint8Array<ArrayBuffer> {
  const types = section(1, vec(functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...uleb(0)])));
  const limits =
    sharedMaxPages === undefined ? [0x00, ...uleb(1)] : [0x03, ...uleb(1), ...uleb(sharedMaxPages)];
  const imports = section(2, vec([[...utf8('env'), ...utf8('memory'), 0x02, ...limits]]));
  const funcs = section(3, vec(functions.map((_, i) => uleb(i))));
  const exported = functions.flatMap((f, i) => (f.export ? [[...utf8(f.export), 0x00, ...uleb(i)]] : []));
  const exports = section(7, vec(exported));
  const code = section(10, vec(functions.map((f) => f.body.encode())));
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  return Uint8Array.from([...header, ...types, ...imports, ...funcs, ...exports, ...code]);
}
