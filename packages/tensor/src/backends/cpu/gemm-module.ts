// The WebAssembly SIMD GEMM, emitted as bytes. A is packed into panels by the module's own packing functions
// (wasm-gemm.ts stages operands in memory first); B either is packed too or is read in place, row-major:
//   A as row panels of MR rows: panel i holds A[i*MR + r, p] at ((i * K + p) * MR + r),
//   B at `j * bPanel + p * bStep` bytes for column panel j (NR columns) and step p: packed column panels
//   (bPanel = K * NR * 4, bStep = NR * 4) or row-major rows of ldb floats (bPanel = NR * 4, bStep = ldb * 4),
//   C row-major with both dimensions padded to whole panels.
// `gemm` blocks K (so one B sliver of kc x NR floats stays in L1) and the A panels (so a block of them stays
// in L2), reads a packed B's next sliver ahead of its use, and calls `tile`, the register-blocked
// micro-kernel: MR x NR accumulators held in v128 locals, per step of k one broadcast load of A per row,
// NR / 4 vector loads of B, and MR * NR / 4 multiply-adds. All addresses are in bytes.

import { encodeModule, FunctionBody, I32, V128, type ValType } from './wasm-encoder.js';

/** The shape of the micro-kernel and the instructions it may use. */
export interface GemmModuleConfig {
  /** Rows of C per tile, a multiple of 4. */
  mr: number;
  /** Columns of C per tile, a multiple of 4. */
  nr: number;
  /** Use f32x4.relaxed_madd instead of f32x4.mul + f32x4.add. */
  relaxed: boolean;
  /** Import the memory as shared, with this maximum in pages (see `encodeModule`). */
  sharedMaxPages?: number;
}

/**
 * `tile(ap, bp, cp, ldc, kc, first, bStep)`: C[MR, NR] at `cp` (rows `ldc` bytes apart) gets A-sliver @
 * B-sliver (steps `bStep` bytes apart) over `kc` >= 1 steps, overwriting C when `first` is non-zero and adding
 * to it otherwise.
 */
function tile({ mr, nr, relaxed }: GemmModuleConfig): FunctionBody {
  const [ap, bp, cp, ldc, kc, first, bStep] = [0, 1, 2, 3, 4, 5, 6];
  const f = new FunctionBody(7);
  const nv = nr / 4;
  /** acc[r][v]: columns 4v ... 4v + 3 of row r. */
  const acc = Array.from({ length: mr }, () => Array.from({ length: nv }, () => f.local(V128)));
  const b = Array.from({ length: nv }, () => f.local(V128));
  const a = f.local(V128);
  const row = f.local(I32);
  const aStep = 4 * mr;

  // Accumulators start at zero (locals are zeroed); load C only when accumulating onto it.
  f.get(first).eqz().if();
  for (const [r, accRow] of acc.entries()) {
    f.get(cp, ldc).i32(r).mul().add().set(row);
    for (const [v, c] of accRow.entries()) {
      const off = 16 * v;
      f.get(row).v128Load(off).set(c);
    }
  }
  f.end();

  // One step of k per iteration: TurboFan schedules an iteration's loads ahead of its arithmetic, so a longer
  // body would keep more broadcasts live at once and spill.
  f.loop();
  for (const [v, bv] of b.entries()) {
    const off = 16 * v;
    f.get(bp).v128Load(off).set(bv);
  }
  for (const [r, accRow] of acc.entries()) {
    const off = 4 * r;
    f.get(ap).loadSplat(off).set(a);
    for (const [v, c] of accRow.entries()) {
      const bv = b[v]!;
      if (relaxed) f.get(a, bv, c).f32x4RelaxedMadd().set(c);
      else f.get(c, a, bv).f32x4Mul().f32x4Add().set(c);
    }
  }
  f.bump(ap, aStep).get(bp, bStep).add().set(bp).bump(kc, -1);
  f.get(kc).brIf(0).end();

  for (const [r, accRow] of acc.entries()) {
    f.get(cp, ldc).i32(r).mul().add().set(row);
    for (const [v, c] of accRow.entries()) {
      const off = 16 * v;
      f.get(row, c).v128Store(off);
    }
  }
  return f;
}

/** Bytes of a cache line, and of a read-ahead group (four lines). */
const LINE_BYTES = 64;
const GROUP_BYTES = 4 * LINE_BYTES;
/** Read-ahead groups a tile call at most (16 lines, of the 256 of a 512 x 8 sliver). */
const MAX_GROUPS = 4;

/**
 * `gemm(ap, bp, cp, mPanels, nPanels, k, kcMax, mcPanels, bPanel, bStep, ldc)`: C = A @ B, A packed, B laid
 * out as `bPanel` and `bStep` say (see the top of this file), rows of C `ldc` bytes apart, k >= 1. K is cut
 * into blocks of at most `kcMax` steps and the A panels into blocks of `mcPanels`; for each pair every B panel
 * sweeps the A block, so its kc x NR sliver is reused from L1 while the A block stays in L2.
 *
 * A packed B's next sliver is read ahead: before each tile call, a share of its cache lines (spread evenly over
 * the calls of the current panel, in groups of four lines, the loaded values dropped). WebAssembly has no
 * prefetch instruction, but these loads are independent of the tile's arithmetic, so their cache misses
 * overlap it. A grouped product of many small experts reads every expert's weights from memory once, and the
 * first tile call on each panel used to wait on them: 256 experts of 256 x 256 at 64 rows each took 51 ms
 * against 44 ms with the same weights for every expert (cached), and 45 ms with the read-ahead; 64 experts of
 * 512 x 256 at 48 rows, 19.7 -> 17.8 ms (16 ms cached). Dense products gain slightly.
 */
function driver({ mr, nr }: GemmModuleConfig): FunctionBody {
  const [ap, bp, cp, mPanels, nPanels, k, kcMax, mcPanels, bPanel, bStep, ldc] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
  ];
  const f = new FunctionBody(11);
  const pc = f.local(I32);
  const kc = f.local(I32);
  const ic = f.local(I32);
  const icEnd = f.local(I32);
  const jr = f.local(I32);
  const ir = f.local(I32);
  const [pf, pfEnd, pfPer, pfGroups, pfN] = Array.from({ length: 5 }, () => f.local(I32)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const TILE_FUNCTION = 0;
  /** Pushes min(x, y), unsigned, where each pushes one value. */
  const min = (x: () => void, y: () => void) => {
    x();
    y();
    x();
    y();
    f.ltU().select();
  };
  const [aPanelBytes, cTileRowBytes] = [4 * mr, 4 * nr];

  f.loop(); // pc: blocks of K
  min(
    () => f.get(kcMax),
    () => f.get(k, pc).sub(),
  );
  f.set(kc);
  f.i32(0).set(ic);
  f.loop(); // ic: blocks of A panels
  min(
    () => f.get(ic, mcPanels).add(),
    () => f.get(mPanels),
  );
  f.set(icEnd);
  f.i32(0).set(jr);
  f.loop(); // jr: B panels
  // The next packed B panel's sliver [pf, pfEnd), read ahead while this panel's tiles compute (nothing past
  // the last panel, nor for a B read in place, whose sliver is not contiguous).
  f.get(bp, jr).i32(1).add().get(bPanel).mul().add().get(pc, bStep).mul().add().set(pf);
  f.get(pf, kc, bStep).mul().add().set(pfEnd);
  f.get(jr)
    .i32(1)
    .add()
    .get(nPanels)
    .ltU()
    .get(bStep)
    .i32(4 * nr)
    .scalar('i32Eq')
    .and()
    .eqz()
    .if();
  f.get(pfEnd).set(pf);
  f.end();
  // Groups a tile call: the sliver spread over the block's tile calls, ceil(bytes / (GROUP_BYTES · calls)),
  // at most MAX_GROUPS.
  f.get(icEnd, ic).sub().i32(GROUP_BYTES).mul().set(pfPer);
  min(
    () => f.i32(MAX_GROUPS),
    () => f.get(kc, bStep).mul().get(pfPer).add().i32(1).sub().get(pfPer).scalar('i32DivU'),
  );
  f.set(pfGroups);
  f.get(ic).set(ir);
  f.loop(); // ir: A panels of the block
  f.get(pfGroups).set(pfN);
  f.block().loop(); // read-ahead groups, each whole inside the sliver
  f.get(pfN).eqz().get(pf).i32(GROUP_BYTES).add().get(pfEnd).scalar('i32GtU').scalar('i32Or').brIf(1);
  for (let line = 0; line < GROUP_BYTES; line += LINE_BYTES) f.get(pf).i32Load(line).drop();
  f.bump(pf, GROUP_BYTES).bump(pfN, -1);
  f.br(0).end().end();
  f.get(ap, ir, k).mul().get(pc).add().i32(aPanelBytes).mul().add();
  f.get(bp, jr, bPanel).mul().add().get(pc, bStep).mul().add();
  f.get(cp, ir).i32(mr).mul().get(ldc).mul().add().get(jr).i32(cTileRowBytes).mul().add();
  f.get(ldc, kc, pc).eqz().get(bStep).call(TILE_FUNCTION);
  f.bump(ir, 1).get(ir, icEnd).ltU().brIf(0).end();
  f.bump(jr, 1).get(jr, nPanels).ltU().brIf(0).end();
  f.get(icEnd).set(ic);
  f.get(ic, mPanels).ltU().brIf(0).end();
  f.get(pc, kc).add().set(pc);
  f.get(pc, k).ltU().brIf(0).end();
  return f;
}

/**
 * `packCopy(dst, src, lineBytes, panels, k)`, for an operand whose panel lanes are contiguous: line p of
 * `src` (lines `lineBytes` apart) holds every lane at step p, and panel q takes `width` floats of each line.
 * The last panel may read up to `width - 1` floats past the end of the last line.
 */
function packCopy(width: number): FunctionBody {
  const [dst, src, lineBytes, panels, k] = [0, 1, 2, 3, 4];
  const f = new FunctionBody(5);
  const s = f.local(I32);
  const p = f.local(I32);
  const panelBytes = 4 * width;
  f.loop(); // panels
  f.get(src).set(s);
  f.get(k).set(p);
  f.loop(); // steps of k
  for (let off = 0; off < panelBytes; off += 16) f.get(dst, s).v128Load(off).v128Store(off);
  f.get(s, lineBytes).add().set(s);
  f.bump(dst, panelBytes).bump(p, -1);
  f.get(p).brIf(0).end();
  f.bump(src, panelBytes).bump(panels, -1);
  f.get(panels).brIf(0).end();
  return f;
}

/** f32 lanes as i8x16.shuffle byte indices (the second operand's lanes are 4-7). */
function lanes(...f32: number[]): number[] {
  return f32.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
}

/**
 * `packTranspose(dst, src, lineBytes, panels, k)`, for an operand whose steps of k are contiguous: line l of
 * `src` holds lane l at every step, and panel q interleaves lines q * width ... q * width + width - 1. Four
 * steps of four lines at a time go through a 4 x 4 transpose in registers; the last k % 4 steps are copied one
 * float at a time. The last panel may read up to `width - 1` lines past the last one.
 */
function packTranspose(width: number): FunctionBody {
  const [dst, src, lineBytes, panels, k] = [0, 1, 2, 3, 4];
  const f = new FunctionBody(5);
  const [k4Bytes, kBytes, d, pb] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const lines = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const [r0, r1, r2, r3] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const [t0, t1, t2, t3] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const [LO, HI, LO64, HI64] = [lanes(0, 4, 1, 5), lanes(2, 6, 3, 7), lanes(0, 1, 4, 5), lanes(2, 3, 6, 7)];
  const step = 4 * width;
  const fourSteps = 4 * step;
  /** Step j of four is lane j of every line: [r0.j r1.j r2.j r3.j]. */
  const outputs: [number, number, number[]][] = [
    [t0, t2, LO64],
    [t0, t2, HI64],
    [t1, t3, LO64],
    [t1, t3, HI64],
  ];

  f.get(k).i32(4).mul().set(kBytes);
  f.get(kBytes).i32(-16).and().set(k4Bytes);
  f.loop(); // panels
  for (let g = 0; g < width; g += 4) {
    for (const [j, line] of lines.entries()) {
      const lane = g + j;
      f.get(src, lineBytes).i32(lane).mul().add().set(line);
    }
    const groupBytes = 4 * g;
    f.get(dst).i32(groupBytes).add().set(d);
    f.i32(0).set(pb);
    f.block().get(k4Bytes).eqz().brIf(0).loop(); // four steps of k at a time
    for (const [j, r] of [r0, r1, r2, r3].entries()) f.get(lines[j]!, pb).add().v128Load(0).set(r);
    // t0 = [r0.0 r1.0 r0.1 r1.1], t1 = [r0.2 r1.2 r0.3 r1.3], t2 and t3 likewise from r2 and r3.
    f.get(r0, r1).shuffle(LO).set(t0);
    f.get(r0, r1).shuffle(HI).set(t1);
    f.get(r2, r3).shuffle(LO).set(t2);
    f.get(r2, r3).shuffle(HI).set(t3);
    for (const [j, [x, y, pattern]] of outputs.entries()) {
      const off = j * step;
      f.get(d, x, y).shuffle(pattern).v128Store(off);
    }
    f.bump(d, fourSteps).bump(pb, 16);
    f.get(pb, k4Bytes).ltU().brIf(0).end().end();
    f.block().get(pb, kBytes).ltU().eqz().brIf(0).loop(); // the last k % 4 steps
    for (const [j, line] of lines.entries()) {
      const off = 4 * j;
      f.get(d, line, pb).add().f32Load(0).f32Store(off);
    }
    f.bump(d, step).bump(pb, 4);
    f.get(pb, kBytes).ltU().brIf(0).end().end();
  }
  f.get(dst, kBytes).i32(width).mul().add().set(dst);
  f.get(src, lineBytes).i32(width).mul().add().set(src);
  f.bump(panels, -1);
  f.get(panels).brIf(0).end();
  return f;
}

/**
 * The module's bytes: it imports `env.memory` and exports `gemm` and, for the panel widths of A (MR) and
 * B (NR), `packCopyA`/`packCopyB` and `packTransposeA`/`packTransposeB`.
 */
export function gemmModuleBytes(config: GemmModuleConfig): Uint8Array<ArrayBuffer> {
  const pack: ValType[] = [I32, I32, I32, I32, I32];
  return encodeModule(
    [
      { params: [I32, I32, I32, I32, I32, I32, I32], body: tile(config) },
      {
        params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
        body: driver(config),
        export: 'gemm',
      },
      { params: pack, body: packCopy(config.mr), export: 'packCopyA' },
      { params: pack, body: packCopy(config.nr), export: 'packCopyB' },
      { params: pack, body: packTranspose(config.mr), export: 'packTransposeA' },
      { params: pack, body: packTranspose(config.nr), export: 'packTransposeB' },
    ],
    config.sharedMaxPages,
  );
}
