import { SwitchyardError } from '../../errors.js';
import { importOptional } from './device.js';

/**
 * Where the WebGPU backend keeps the matmul tile it tuned per (adapter, shape class), so a later backend (in
 * this process or another session) starts from it instead of tuning again. Keys and values are strings the
 * backend writes and validates: keys name a format version, the candidate set, the adapter's identity and
 * the shape class; a value that is not a tile of the current candidates is ignored. Implementations should
 * not throw; what they fail to store is tuned again next time.
 */
export interface TileCache {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

/** A cache in a `Map`: the backends of this process share what it holds (the default of `createWebGPUBackend`). */
export function memoryTileCache(): TileCache {
  const entries = new Map<string, string>();
  return {
    get: (key) => entries.get(key),
    set: (key, value) => {
      entries.set(key, value);
    },
  };
}

/** The subset of the Web Storage API the localStorage cache uses. */
export interface TileStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * A cache in the browser's `localStorage` (or any Web Storage), so tuned tiles survive page loads. Reads and
 * writes that the storage refuses (quota, privacy modes) are ignored.
 */
export function localStorageTileCache(storage?: TileStorage): TileCache {
  const store = storage ?? (globalThis as { localStorage?: TileStorage }).localStorage;
  if (!store) {
    throw new SwitchyardError(
      'BACKEND_UNAVAILABLE',
      'localStorageTileCache',
      'this environment has no localStorage: pass a Storage, or use fileTileCache in Node',
    );
  }
  return {
    get(key) {
      try {
        return store.getItem(key) ?? undefined;
      } catch {
        return undefined;
      }
    },
    set(key, value) {
      try {
        store.setItem(key, value);
      } catch {
        // A full or disabled storage: the tile is tuned again next time.
      }
    },
  };
}

interface NodeFs {
  readFileSync(path: string, encoding: 'utf8'): string;
  writeFileSync(path: string, data: string): void;
  renameSync(from: string, to: string): void;
  mkdirSync(path: string, options: { recursive: true }): unknown;
}

/** The string entries of a JSON object file; a missing, unreadable or malformed file has none. */
function readEntries(fs: NodeFs, path: string): Map<string, string> {
  const entries = new Map<string, string>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch {
    return entries;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return entries;
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') entries.set(key, value);
  return entries;
}

/**
 * A cache in a JSON file for Node (one object of string entries), read when created. Each `set` merges
 * with what the file holds then (another process may have tuned other classes) and replaces the file
 * atomically (write, then rename). A missing, unreadable or malformed file starts empty; entries that are
 * not strings are ignored; a failed write keeps the entry in memory only.
 *
 * @example
 * const backend = await createWebGPUBackend({ tileCache: await fileTileCache('.cache/switchyard-tiles.json') });
 */
export async function fileTileCache(path: string): Promise<TileCache> {
  const fs = await importOptional<NodeFs>('node:fs');
  if (!fs) {
    throw new SwitchyardError(
      'BACKEND_UNAVAILABLE',
      'fileTileCache',
      'needs node:fs (Node); use localStorageTileCache in browsers',
    );
  }
  const entries = readEntries(fs, path);
  const dir = path.replace(/[\\/][^\\/]*$/, '');
  return {
    get: (key) => entries.get(key),
    set(key, value) {
      entries.set(key, value);
      try {
        const merged = readEntries(fs, path);
        merged.set(key, value);
        if (dir && dir !== path) fs.mkdirSync(dir, { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, `${JSON.stringify(Object.fromEntries(merged), null, 2)}\n`);
        fs.renameSync(tmp, path);
      } catch {
        // A read-only or missing directory: the entry stays in memory for this cache only.
      }
    },
  };
}
