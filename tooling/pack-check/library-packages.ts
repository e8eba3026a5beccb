// The library packages the pack check covers: every packages/*/package.json that is not private.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The fields of a package.json the check reads. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  type?: string;
  sideEffects?: boolean;
  exports?: Record<string, ExportTarget | string | null>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** One subpath of an `exports` map with its conditions. */
export interface ExportTarget {
  types?: string;
  import?: string;
  [condition: string]: string | undefined;
}

/** A library package of the monorepo. */
export interface LibraryPackage {
  /** `@switchyard/moe`. */
  name: string;
  /** `moe`, the folder under packages/. */
  short: string;
  dir: string;
  manifest: Manifest;
  /** Every file its `exports` map publishes exists (the package was built). */
  built: boolean;
  /** Built, but a source file changed after the build. */
  stale: boolean;
  /** Its dependencies on other library packages. */
  internal: string[];
}

/** The files an `exports` map points at for consumers (`types` and `import`), by subpath. */
export function exportedFiles(manifest: Manifest): { subpath: string; files: string[] }[] {
  return Object.entries(manifest.exports ?? {}).flatMap(([subpath, target]) => {
    if (target === null || subpath === './package.json' || subpath.includes('*')) return [];
    if (typeof target === 'string') return [{ subpath, files: [target] }];
    return [{ subpath, files: [target.types, target.import].filter((f): f is string => f !== undefined) }];
  });
}

/** The newest modification time of the files under `dir`, in milliseconds (0 when there are none). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { withFileTypes: true }).reduce((latest, e) => {
    const path = join(dir, e.name);
    return Math.max(latest, e.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);
}

/** Every non-private package under `<repo>/packages`, in folder order. */
export function libraryPackages(repo: string): LibraryPackage[] {
  const root = join(repo, 'packages');
  const found = readdirSync(root)
    .sort()
    .map((short) => ({ short, dir: join(root, short) }))
    .filter(({ dir }) => existsSync(join(dir, 'package.json')))
    .map(({ short, dir }) => ({
      short,
      dir,
      manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest,
    }))
    .filter(({ manifest }) => manifest.private !== true);
  const names = new Set(found.map(({ manifest }) => manifest.name));
  return found.map(({ short, dir, manifest }) => {
    const targets = exportedFiles(manifest).flatMap(({ files }) => files);
    const built = targets.length > 0 && targets.every((file) => existsSync(join(dir, file)));
    const builtAt = built ? Math.min(...targets.map((file) => statSync(join(dir, file)).mtimeMs)) : 0;
    return {
      name: manifest.name,
      short,
      dir,
      manifest,
      built,
      stale: built && newest(join(dir, 'src')) > builtAt,
      internal: Object.keys(manifest.dependencies ?? {}).filter((dep) => names.has(dep)),
    };
  });
}

/**
 * The packages that can be installed together: built from their current sources, with every internal
 * dependency in the set too. Returns them and, for each one left out, why.
 */
export function installable(packages: LibraryPackage[]): { ready: LibraryPackage[]; left: string[] } {
  const ready = new Map(packages.filter((p) => p.built && !p.stale).map((p) => [p.name, p]));
  let changed = true;
  while (changed) {
    changed = false;
    for (const p of ready.values()) {
      if (p.internal.every((dep) => ready.has(dep))) continue;
      ready.delete(p.name);
      changed = true;
    }
  }
  const left = packages
    .filter((p) => !ready.has(p.name))
    .map((p) => {
      if (!p.built) return `${p.name} (no dist: run npx turbo run build)`;
      if (p.stale) return `${p.name} (src changed after the build: run npx turbo run build)`;
      return `${p.name} (needs ${p.internal.filter((d) => !ready.has(d)).join(', ')})`;
    });
  return { ready: packages.filter((p) => ready.has(p.name)), left };
}
