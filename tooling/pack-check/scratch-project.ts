// A scratch project outside the monorepo that installs the packed tarballs the way a user installs packages
// from the registry, with copies of the README examples rewritten to import the installed packages.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';
import type { LibraryPackage } from './library-packages.js';

/** What a finished command printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion; rejects with everything it printed when it fails. npm's own lifecycle
 * variables (set when the tests run under `npm test`) are not passed on, so nested npm commands act on the
 * directory they run in, not on the monorepo.
 */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; timeout?: number; env?: Record<string, string> },
): Promise<CommandOutput> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !/^npm_(package|lifecycle)_/i.test(key) &&
        !/^npm_config_(workspaces?|include_workspace_root|prefix|global|local_prefix)$/i.test(key),
    ),
  );
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeout ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...env, ...options.env },
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${command} ${args.join(' ')} failed in ${options.cwd}:\n${stdout}\n${stderr}`));
        } else resolve({ stdout, stderr });
      },
    );
  });
}

/** One packed package: its tarball and the files npm put in it. */
export interface Packed {
  pkg: LibraryPackage;
  tarball: string;
  files: string[];
}

/** Packs every package into `<dir>/tarballs` with one `npm pack` (lifecycle scripts off). */
export async function packAll(packages: LibraryPackage[], dir: string): Promise<Packed[]> {
  const out = join(dir, 'tarballs');
  mkdirSync(out, { recursive: true });
  const { stdout } = await run(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', out, ...packages.map((p) => p.dir)],
    { cwd: dir },
  );
  const infos = JSON.parse(stdout) as { name: string; filename: string; files: { path: string }[] }[];
  return packages.map((pkg) => {
    const info = infos.find((i) => i.name === pkg.name);
    if (!info) throw new Error(`npm pack printed no result for ${pkg.name}`);
    return { pkg, tarball: join(out, info.filename), files: info.files.map((f) => f.path).sort() };
  });
}

/** Makes an empty ESM project in the OS temp directory, refusing a location inside `repo`. */
export function scratchDir(repo: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pack-'));
  if (!relative(repo, dir).startsWith('..')) {
    throw new Error(`the scratch project ${dir} lies inside the monorepo ${repo}: set TMPDIR elsewhere`);
  }
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'switchyard-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  return dir;
}

/** The example files a package README links to (`](examples/name.ts)`). */
export function readmeExamples(pkg: LibraryPackage): string[] {
  const readme = join(pkg.dir, 'README.md');
  if (!existsSync(readme)) return [];
  const links = readFileSync(readme, 'utf8').matchAll(/\]\(examples\/([\w.-]+\.ts)\)/g);
  return [...new Set(Array.from(links, (m) => m[1] as string))];
}

/**
 * Copies every `.ts` file of `from` (tests and tool configs excluded) into `to` as TypeScript, for the type check, and as
 * JavaScript transpiled by TypeScript, for Node. Imports of the package's own source (`../src/index.js`) are
 * rewritten to the package name; any other import reaching outside the folder is an error.
 */
export function copyExamples(from: string, to: string, packageName: string | null): string[] {
  mkdirSync(to, { recursive: true });
  const copied: string[] = [];
  for (const file of readdirSync(from).filter((f) => /(?<!\.test|\.config)\.ts$/.test(f))) {
    let source = readFileSync(join(from, file), 'utf8');
    if (packageName) source = source.replaceAll(/(['"])\.\.\/src\/index\.js\1/g, `'${packageName}'`);
    const outside = source.match(/from\s*['"](\.\.\/[^'"]*)['"]/);
    if (outside) throw new Error(`${join(from, file)} imports ${outside[1]}, outside what a user installs`);
    writeFileSync(join(to, file), source);
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    writeFileSync(join(to, file.replace(/\.ts$/, '.js')), js.outputText);
    copied.push(file);
  }
  return copied;
}

/** Writes a script that imports example modules and awaits each exported function callable without arguments. */
export function writeExampleRunner(dir: string): string {
  const file = join(dir, 'run-examples.mjs');
  writeFileSync(
    file,
    `import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

for (const file of process.argv.slice(2)) {
  const mod = await import(pathToFileURL(resolve(file)).href);
  for (const [name, fn] of Object.entries(mod)) {
    if (typeof fn !== 'function' || fn.length > 0) continue;
    if (/^class\\b/.test(Function.prototype.toString.call(fn))) continue;
    if (fn.constructor.name.endsWith('GeneratorFunction')) continue;
    console.log(\`--- \${file} \${name}()\`);
    await fn();
  }
}
`,
  );
  return file;
}
