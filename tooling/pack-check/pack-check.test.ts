// Installing a package alone: every library package is packed with `npm pack`, the tarballs are installed with
// `npm install` into a scratch project outside the monorepo, and there, as a user would, the check imports each
// package in Node, type-checks a consumer file and the examples against the published declarations, runs each
// package README's example and the root examples, and bundles `@switchyard/moe` for the browser with Vite.
//
// It needs the packages built. Locally, unbuilt packages (and those depending on them) are left out with a
// message; in CI (CI=true, after `turbo run build`) every library package must be there.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportedFiles, installable, type LibraryPackage, libraryPackages } from './library-packages.js';
import { publishedImports } from './published-imports.js';
import {
  copyExamples,
  type Packed,
  packAll,
  readmeExamples,
  run,
  scratchDir,
  writeExampleRunner,
} from './scratch-project.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const ci = Boolean(process.env.CI) && process.env.CI !== 'false';
const all = libraryPackages(repo);
const { ready, left } = installable(all);
if (left.length > 0 && !ci) {
  console.warn(`pack-check: left out ${left.join('; ')}`);
}
const names = new Set(ready.map((p) => p.name));
/** The packages the root examples import; they run when all of them are installed. */
const rootImports = new Set(
  readdirSync(join(repo, 'examples'))
    .filter((f) => /(?<!\.test|\.config)\.ts$/.test(f))
    .flatMap((f) => [
      ...readFileSync(join(repo, 'examples', f), 'utf8').matchAll(/from '(@switchyard\/[\w-]+)'/g),
    ])
    .map((m) => m[1] as string),
);
const rootReady = [...rootImports].every((name) => names.has(name));
const node = process.execPath;
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

/** vite/bin/vite.js from the first workspace that installed Vite (apps/demo does). */
function findVite(): string | null {
  const roots = [
    repo,
    ...['apps', 'tooling'].flatMap((d) => readdirSync(join(repo, d)).map((n) => join(repo, d, n))),
  ];
  for (const root of roots) {
    const bin = join(root, 'node_modules/vite/bin/vite.js');
    if (existsSync(bin)) return bin;
  }
  return null;
}

/** Every import specifier the packages' `exports` maps offer: `@switchyard/tensor`, `@switchyard/tensor/testing`. */
const entryPoints = ready.flatMap((pkg) =>
  exportedFiles(pkg.manifest).map(({ subpath }) =>
    subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
  ),
);

/** Milliseconds each stage took, printed at the end. */
const timings: [string, number][] = [];
async function timed<T>(stage: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timings.push([stage, Math.round(performance.now() - start)]);
  }
}

describe('library packages', () => {
  it.runIf(ci)('in CI, every library package is built and installable', () => {
    expect(left, 'packages left out').toEqual([]);
    expect(rootReady, 'the root examples can run').toBe(true);
  });

  it('at least one library package is built (run npx turbo run build)', () => {
    if (!ci && ready.length === 0)
      console.warn('pack-check: nothing is built; the install checks are skipped');
    expect(ci ? ready.length : 1).toBeGreaterThan(0);
  });
});

describe.runIf(ready.length > 0)('packed and installed outside the monorepo', () => {
  let dir = '';
  let packed: Packed[] = [];

  beforeAll(async () => {
    dir = scratchDir(repo);
    packed = await timed('npm pack', () => packAll(ready, dir));
    await timed('npm install', () =>
      run(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--ignore-scripts',
          '--prefer-offline',
          ...packed.map((p) => `./${join('tarballs', p.tarball.split('/').at(-1) as string)}`),
        ],
        { cwd: dir, timeout: 180_000 },
      ),
    );
  });

  afterAll(() => {
    console.log(`pack-check timings (ms): ${timings.map(([s, ms]) => `${s} ${ms}`).join(', ')}`);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const installed = (pkg: LibraryPackage) => join(dir, 'node_modules', pkg.name);

  describe.each(ready)('$name', (pkg) => {
    it('ships its dist (ESM, declarations, source maps), README, CHANGELOG and package.json only', () => {
      const { files } = packed.find((p) => p.pkg === pkg) as Packed;
      const { manifest } = pkg;
      expect(files.filter((f) => !/^(dist\/.+|package\.json|README\.md|CHANGELOG\.md)$/.test(f))).toEqual([]);
      expect(files).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md']));
      expect(manifest.type).toBe('module');
      expect(manifest.sideEffects).toBe(false);
      expect(manifest.files).toEqual(['dist', 'README.md', 'CHANGELOG.md']);
      const legacy = ['main', 'module', 'types', 'typings', 'browser'].filter((field) => field in manifest);
      expect(legacy, 'entry fields beside the exports map').toEqual([]);
      for (const { subpath, files: targets } of exportedFiles(manifest)) {
        const target = manifest.exports?.[subpath];
        expect(
          typeof target === 'object' && target?.types && target.import,
          `${subpath} has types and import`,
        ).toBeTruthy();
        for (const file of targets)
          expect(files, `${subpath} -> ${file}`).toContain(file.replace(/^\.\//, ''));
      }
      const js = files.filter((f) => f.endsWith('.js'));
      expect(js.length).toBeGreaterThan(0);
      for (const file of js) expect(files, 'source map').toContain(`${file}.map`);
    });

    it('declares exactly the packages its published files import (internal ones by exact version)', () => {
      const { manifest } = pkg;
      const distFiles = (sub: string): string[] =>
        readdirSync(join(installed(pkg), sub), { withFileTypes: true }).flatMap((e) =>
          e.isDirectory()
            ? distFiles(join(sub, e.name))
            : /\.(js|d\.ts)$/.test(e.name)
              ? [readFileSync(join(installed(pkg), sub, e.name), 'utf8')]
              : [],
        );
      const imported = publishedImports(distFiles('dist'));
      imported.delete(pkg.name);
      const dependencies = Object.keys(manifest.dependencies ?? {});
      const declared = new Set([
        ...dependencies,
        ...Object.keys(manifest.peerDependencies ?? {}),
        ...Object.keys(manifest.optionalDependencies ?? {}),
      ]);
      expect([...imported].filter((d) => !declared.has(d)).sort(), 'imported but not declared').toEqual([]);
      expect(dependencies.filter((d) => !imported.has(d)).sort(), 'declared but never imported').toEqual([]);
      for (const dep of pkg.internal) {
        const version = all.find((p) => p.name === dep)?.manifest.version;
        expect(manifest.dependencies?.[dep], `${dep} pinned to its version`).toBe(version);
      }
    });
  });

  it('imports every entry point in Node; deep imports into dist or internal/ are refused', async () => {
    const entries = entryPoints;
    const deep = ready.flatMap((pkg) => [`${pkg.name}/dist/index.js`, `${pkg.name}/internal/anything`]);
    writeFileSync(
      join(dir, 'import-all.mjs'),
      `const out = { exports: {}, deep: {} };
for (const spec of ${JSON.stringify(entries)}) out.exports[spec] = Object.keys(await import(spec)).length;
for (const spec of ${JSON.stringify(deep)}) {
  out.deep[spec] = await import(spec).then(() => 'imported', (e) => e.code ?? String(e));
}
console.log(JSON.stringify(out));
`,
    );
    const { stdout } = await timed('node imports', () => run(node, ['import-all.mjs'], { cwd: dir }));
    const out = JSON.parse(stdout) as { exports: Record<string, number>; deep: Record<string, string> };
    for (const spec of entries) expect(out.exports[spec], spec).toBeGreaterThan(0);
    for (const spec of deep) expect(out.deep[spec], spec).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  /** Example folders copied into the scratch project: each package's README examples, then the root ones. */
  const exampleSets = () => {
    const sets = ready
      .filter((pkg) => readmeExamples(pkg).length > 0)
      .map((pkg) => ({
        label: pkg.name,
        to: join(dir, 'examples', pkg.short),
        files: copyExamples(join(pkg.dir, 'examples'), join(dir, 'examples', pkg.short), pkg.name).filter(
          (f) => readmeExamples(pkg).includes(f),
        ),
      }));
    if (rootReady) {
      const to = join(dir, 'examples', 'root');
      const files = copyExamples(join(repo, 'examples'), to, null).filter((f) => f !== 'run.ts');
      sets.push({ label: 'root examples/', to, files });
    }
    return sets;
  };
  let sets: ReturnType<typeof exampleSets> = [];

  it('type-checks a consumer file and every copied example against the published declarations (TypeScript 5.9)', async () => {
    sets = exampleSets();
    const entries = entryPoints;
    writeFileSync(
      join(dir, 'consumer.ts'),
      `${entries.map((spec, i) => `import * as m${i} from '${spec}';`).join('\n')}\n\nexport const modules = [${entries.map((_, i) => `m${i}`).join(', ')}];\n`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            lib: ['ES2023', 'DOM', 'ESNext.Disposable'],
            strict: true,
            noUncheckedIndexedAccess: true,
            skipLibCheck: false,
            noEmit: true,
            types: ['node'],
            typeRoots: [join(repo, 'node_modules/@types')],
          },
          include: ['consumer.ts', 'examples/**/*.ts'],
        },
        null,
        2,
      ),
    );
    const result = await timed('tsc', () =>
      run(node, [tsc, '-p', 'tsconfig.json'], { cwd: dir }).catch((e: Error) => e),
    );
    expect(result instanceof Error ? result.message : '').toBe('');
  });

  it("runs each package README's example and the root examples against the installed packages", async () => {
    if (sets.length === 0) sets = exampleSets();
    const runner = writeExampleRunner(dir);
    for (const set of sets) {
      const { stdout } = await timed(`examples ${set.label}`, () =>
        run(node, [runner, ...set.files.map((f) => join(set.to, f.replace(/\.ts$/, '.js')))], {
          cwd: dir,
          timeout: 120_000,
        }),
      );
      expect(stdout, `${set.label} ran an example`).toMatch(/^--- /m);
    }
    if (rootReady) expect(sets.map((s) => s.label)).toContain('root examples/');
    expect(sets.map((s) => s.label)).toEqual(
      expect.arrayContaining(ready.filter((p) => readmeExamples(p).length > 0).map((p) => p.name)),
    );
  });

  const vite = findVite();
  it.runIf(names.has('@switchyard/moe') && (vite !== null || ci))(
    'bundles @switchyard/moe for the browser with Vite, carrying no Node-only code',
    async () => {
      expect(vite, 'vite is installed (apps/demo depends on it)').not.toBeNull();
      const page = join(dir, 'browser');
      mkdirSync(page, { recursive: true });
      writeFileSync(
        join(page, 'index.html'),
        '<!doctype html>\n<script type="module" src="./main.js"></script>\n',
      );
      writeFileSync(
        join(page, 'main.js'),
        `import { GroupedExperts } from '@switchyard/experts';
import { MoELayer, readStats } from '@switchyard/moe';
import { TopKRouter } from '@switchyard/routers';
import { Generator, init } from '@switchyard/tensor';

init({ backend: 'auto' }).then(async () => {
  const gen = new Generator(0);
  const layer = new MoELayer({
    router: new TopKRouter({ dModel: 8, numExperts: 4, topK: 2, generator: gen }),
    experts: new GroupedExperts({ numExperts: 4, dModel: 8, dHidden: 16, activation: 'gelu', generator: gen }),
  });
  const { stats } = layer.forward(gen.normal([16, 8]));
  document.body.textContent = JSON.stringify(await readStats(stats));
});
`,
      );
      const { stdout, stderr } = await timed('vite build', () =>
        run(node, [vite as string, 'build', '--outDir', 'dist', '--emptyOutDir', '--minify', 'false'], {
          cwd: page,
        }),
      );
      expect(`${stdout}\n${stderr}`).not.toMatch(/externalized for browser compatibility/);
      const assets = join(page, 'dist', 'assets');
      const bundle = readdirSync(assets)
        .filter((f) => f.endsWith('.js'))
        .map((f) => readFileSync(join(assets, f), 'utf8'))
        .join('\n');
      expect(bundle).toContain('MoELayer');
      expect(
        bundle.match(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']node:[^"']+["']/g) ?? [],
      ).toEqual([]);
      expect(bundle).not.toContain('__vite-browser-external');
    },
  );
});
