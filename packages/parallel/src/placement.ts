// Shape letters: E experts, N ranks (devices) of the expert-parallel group.
import { SwitchyardError } from '@switchyard/tensor';

/** A device limit for routers (`groupLimit` of TopKRouter / SigmoidRouter): groups are contiguous id blocks. */
export interface PlacementGroupLimit {
  groups: number;
  topGroups: number;
  groupScoreTopN?: number;
}

function checkCount(op: string, name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * Where the routed experts of an MoE layer live across the N ranks of an expert-parallel group. Rank r hosts
 * the experts `slots[r]` (its local experts, in that order); an expert hosted by several ranks is replicated
 * (EPLB-style redundant experts for hot experts), and tokens from rank s are served by `hostFor(e, s)`: s itself
 * when it hosts e, else one replica chosen by s. Every rank hosts at least one expert and every expert lives
 * somewhere.
 *
 * Build one with `contiguousPlacement`, `roundRobinPlacement` or `loadAwarePlacement`, or from explicit slots.
 */
export class ExpertPlacement {
  readonly numExperts: number;
  readonly numRanks: number;
  /** The experts each rank hosts, in local slot order. */
  readonly slots: readonly (readonly number[])[];
  /** The ranks hosting each expert; the first is its primary (what `deviceOfExpert` reports). */
  readonly hosts: readonly (readonly number[])[];

  /**
   * @param slots the experts each rank hosts.
   * @param primary the rank of each expert's primary replica, [E]; default the lowest rank hosting it.
   */
  constructor(numExperts: number, slots: readonly (readonly number[])[], primary?: readonly number[]) {
    const op = 'ExpertPlacement';
    checkCount(op, 'numExperts', numExperts);
    if (!Array.isArray(slots) || slots.length < 1) {
      throw new SwitchyardError('INVALID_ARGUMENT', op, 'slots must list the experts of at least one rank');
    }
    const hosts: number[][] = Array.from({ length: numExperts }, () => []);
    slots.forEach((list, r) => {
      if (!Array.isArray(list) || list.length === 0) {
        throw new SwitchyardError('INVALID_ARGUMENT', op, `rank ${r} hosts no expert; every rank needs one`);
      }
      for (const e of list) {
        if (!Number.isInteger(e) || e < 0 || e >= numExperts) {
          throw new SwitchyardError(
            'INVALID_ARGUMENT',
            op,
            `rank ${r} lists expert ${e}, outside 0..${numExperts - 1}`,
          );
        }
        if ((hosts[e] as number[]).includes(r)) {
          throw new SwitchyardError('INVALID_ARGUMENT', op, `rank ${r} lists expert ${e} twice`);
        }
        (hosts[e] as number[]).push(r);
      }
    });
    const missing = hosts.findIndex((h) => h.length === 0);
    if (missing >= 0)
      throw new SwitchyardError('INVALID_ARGUMENT', op, `expert ${missing} is hosted by no rank`);
    if (primary !== undefined) {
      hosts.forEach((h, e) => {
        const p = primary[e] as number;
        if (!h.includes(p)) {
          throw new SwitchyardError(
            'INVALID_ARGUMENT',
            op,
            `primary[${e}] = ${p} is not a rank hosting expert ${e}`,
          );
        }
        h.splice(h.indexOf(p), 1);
        h.unshift(p);
      });
    }
    this.numExperts = numExperts;
    this.numRanks = slots.length;
    this.slots = slots.map((s) => Object.freeze([...s]));
    this.hosts = hosts.map((h) => Object.freeze(h));
  }

  /** Whether some expert has more than one replica. */
  get replicated(): boolean {
    return this.hosts.some((h) => h.length > 1);
  }

  /** The rank that serves expert `e` for tokens of rank `source`: itself when it hosts a replica. */
  hostFor(expert: number, source: number): number {
    const hosts = this.hosts[expert] as readonly number[];
    if (hosts.includes(source)) return source;
    return hosts[source % hosts.length] as number;
  }

  /**
   * The device of every expert (its primary replica), [E]: the `deviceOfExpert` layout that
   * `deviceBalanceLoss` and `communicationBalanceLoss` of @switchyard/losses take, so the DeepSeek device- and
   * communication-balance losses see the real placement.
   */
  deviceOfExpert(): number[] {
    return this.hosts.map((h) => h[0] as number);
  }

  /**
   * The router group limit for device-limited routing (DeepSeek-V2: each token's experts span at most
   * `topGroups` devices). Routers group experts in contiguous id blocks, so this exists only for placements
   * where rank r hosts exactly experts [r·E/N, (r+1)·E/N) with no replica (`contiguousPlacement`); any other
   * placement is an INVALID_CONFIG error rather than a limit that would silently count the wrong devices.
   */
  routerGroupLimit(topGroups: number, groupScoreTopN?: number): PlacementGroupLimit {
    const op = 'ExpertPlacement.routerGroupLimit';
    checkCount(op, 'topGroups', topGroups);
    if (topGroups > this.numRanks) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        op,
        `topGroups ${topGroups} exceeds the ${this.numRanks} ranks`,
      );
    }
    const n = this.numExperts / this.numRanks;
    const contiguous =
      Number.isInteger(n) && this.slots.every((s, r) => s.length === n && s.every((e, i) => e === r * n + i));
    if (!contiguous) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `routers limit tokens to contiguous blocks of expert ids, but this placement hosts [${this.slots
          .map((s) => s.join(' '))
          .join(
            ' | ',
          )}]; use contiguousPlacement(${this.numExperts}, ${this.numRanks}) with device-limited routing`,
      );
    }
    return { groups: this.numRanks, topGroups, ...(groupScoreTopN === undefined ? {} : { groupScoreTopN }) };
  }

  /**
   * Tokens each rank computes, [N], when experts receive `load_E` tokens and sources are spread evenly over an
   * expert's replicas: the balance a placement achieves for a measured load.
   */
  rankLoads(load_E: readonly number[]): number[] {
    checkLoad('ExpertPlacement.rankLoads', load_E, this.numExperts);
    const out = new Array<number>(this.numRanks).fill(0);
    this.hosts.forEach((h, e) => {
      for (const r of h) out[r] = (out[r] as number) + (load_E[e] as number) / h.length;
    });
    return out;
  }
}

function checkLoad(op: string, load_E: readonly number[], experts: number): void {
  if (!Array.isArray(load_E) || load_E.length !== experts) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      op,
      `load must list [E] = [${experts}] values, got [${load_E?.length}]`,
    );
  }
  for (const v of load_E) {
    if (!Number.isFinite(v) || v < 0)
      throw new SwitchyardError('INVALID_ARGUMENT', op, `loads must be >= 0, got ${v}`);
  }
}

function checkShape(op: string, experts: number, ranks: number): void {
  checkCount(op, 'numExperts', experts);
  checkCount(op, 'numRanks', ranks);
  if (experts < ranks) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `${experts} experts cannot give each of ${ranks} ranks one`,
    );
  }
}

/** Rank r hosts a contiguous block of experts (sizes differ by at most one): expert-parallel's default. */
export function contiguousPlacement(numExperts: number, numRanks: number): ExpertPlacement {
  checkShape('contiguousPlacement', numExperts, numRanks);
  const slots = Array.from({ length: numRanks }, (_, r) => {
    const start = Math.floor((r * numExperts) / numRanks);
    const end = Math.floor(((r + 1) * numExperts) / numRanks);
    return Array.from({ length: end - start }, (_, i) => start + i);
  });
  return new ExpertPlacement(numExperts, slots);
}

/** Expert e lives on rank e mod N (neighbouring experts, often similarly loaded, land on different ranks). */
export function roundRobinPlacement(numExperts: number, numRanks: number): ExpertPlacement {
  checkShape('roundRobinPlacement', numExperts, numRanks);
  const slots = Array.from({ length: numRanks }, (_, r) =>
    Array.from({ length: Math.ceil((numExperts - r) / numRanks) }, (_, i) => r + i * numRanks),
  );
  return new ExpertPlacement(numExperts, slots);
}

/** Options of `loadAwarePlacement`. */
export interface LoadAwareOptions {
  /** Expert slots per rank; slots beyond ⌈E / N⌉ per rank hold replicas of hot experts. Default ⌈E / N⌉. */
  slotsPerRank?: number;
}

/**
 * Places experts from a measured load (tokens per expert, e.g. `readStats(stats).tokensPerExpert` summed over
 * steps and ranks), as DeepSeek-V3's redundant experts and EPLB do:
 *
 * 1. replicas: the N·S − E spare slots go one at a time to the expert with the largest load per replica,
 *    load_e / replicas_e (never more replicas than ranks);
 * 2. copies by longest-processing-time first: each copy (worth load_e / replicas_e) goes to the least-loaded
 *    rank with a free slot that does not hold that expert yet (a copy with no such rank is dropped);
 * 3. primaries: each expert's primary (its device for the balance losses) is the host with the fewest
 *    primaries so far, experts with fewer replicas first, so that every rank is some expert's primary.
 *
 * Deterministic: ties go to the lower expert id and the lower rank.
 */
export function loadAwarePlacement(
  load_E: readonly number[],
  numRanks: number,
  options: LoadAwareOptions = {},
): ExpertPlacement {
  const op = 'loadAwarePlacement';
  const experts = Array.isArray(load_E) ? load_E.length : 0;
  checkShape(op, experts, numRanks);
  checkLoad(op, load_E, experts);
  const slotsPerRank = checkCount(op, 'slotsPerRank', options.slotsPerRank ?? Math.ceil(experts / numRanks));
  if (slotsPerRank * numRanks < experts) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `${numRanks} ranks of ${slotsPerRank} slots cannot hold ${experts} experts`,
    );
  }
  const replicas = new Array<number>(experts).fill(1);
  const share = (e: number) => (load_E[e] as number) / (replicas[e] as number);
  for (let spare = slotsPerRank * numRanks - experts; spare > 0; spare--) {
    let best = -1;
    for (let e = 0; e < experts; e++) {
      if ((replicas[e] as number) < numRanks && (best < 0 || share(e) > share(best))) best = e;
    }
    if (best < 0) break;
    replicas[best] = (replicas[best] as number) + 1;
  }
  const copies = Array.from({ length: experts }, (_, e) => e)
    .sort((a, b) => share(b) - share(a) || a - b)
    .flatMap((e) => new Array<number>(replicas[e] as number).fill(e));
  const shares = copies.map(share);
  const slots: number[][] = Array.from({ length: numRanks }, () => []);
  const loads = new Array<number>(numRanks).fill(0);
  copies.forEach((e, i) => {
    let target = -1;
    for (let r = 0; r < numRanks; r++) {
      const s = slots[r] as number[];
      if (s.length >= slotsPerRank || s.includes(e)) continue;
      if (target < 0 || (loads[r] as number) < (loads[target] as number)) target = r;
    }
    if (target < 0) return;
    (slots[target] as number[]).push(e);
    loads[target] = (loads[target] as number) + (shares[i] as number);
  });
  const hosts = Array.from({ length: experts }, (_, e) =>
    slots.flatMap((s, r) => (s.includes(e) ? [r] : [])),
  );
  const primaries = new Array<number>(numRanks).fill(0);
  const primary = new Array<number>(experts).fill(0);
  const byReplicas = Array.from({ length: experts }, (_, e) => e).sort(
    (a, b) => (hosts[a] as number[]).length - (hosts[b] as number[]).length || a - b,
  );
  for (const e of byReplicas) {
    const p = (hosts[e] as number[]).reduce((best, r) =>
      (primaries[r] as number) < (primaries[best] as number) ? r : best,
    );
    primary[e] = p;
    primaries[p] = (primaries[p] as number) + 1;
  }
  return new ExpertPlacement(
    experts,
    slots.map((s) => s.sort((a, b) => a - b)),
    primary,
  );
}
