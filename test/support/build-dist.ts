/**
 * dist/ for the tests that run the built gateway or CLI, made once and only when its sources
 * changed. The server is transpiled file by file with swc (about a second, where tsc's full
 * build takes 10–40 s); types are checked by `npm run typecheck`, and `npm run build` still
 * builds with tsc. The console is rebuilt with vite only when web/ changed.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { transformFile, version as swcVersion, type Options } from '@swc/core';

const SERVER_DIRS = ['src', 'migrations'];
// What tsconfig.json asks of tsc, for swc: CommonJS (module node20 in a CommonJS package),
// legacy decorators with their design-type metadata (type-graphql and TypeORM read it),
// ES2022 class fields.
const SWC_OPTIONS: Options = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
    target: 'es2022',
    keepClassNames: true,
  },
  // Dynamic import() stays import(), as tsc leaves it under module node20; exports are annotated
  // as tsc writes them, so an import() of a built file (the bench's) sees its named exports.
  module: { type: 'commonjs', ignoreDynamic: true, exportInteropAnnotation: true },
  sourceMaps: true,
  swcrc: false,
  configFile: false,
};

/** Every file under `dir` (relative to `root`), sorted. */
function filesUnder(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  if (existsSync(path.join(root, dir))) walk(dir);
  return out.sort();
}

function hashFiles(root: string, files: string[], extra: string): string {
  const hash = createHash('sha256').update(extra);
  for (const file of files) hash.update(`\0${file}\0`).update(readFileSync(path.join(root, file)));
  return hash.digest('hex');
}

/** Names, sizes and mtimes of what a build wrote: a later `npm run build` (tsc) or a hand edit changes it. */
function outputFingerprint(root: string, dirs: string[]): string {
  const hash = createHash('sha256');
  for (const dir of dirs) for (const file of filesUnder(root, dir)) {
    const s = statSync(path.join(root, file));
    hash.update(`${file}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return hash.digest('hex');
}

type Stamp = { sources: string; output: string };

function readStamp(file: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

function upToDate(root: string, stampFile: string, sources: string, outputDirs: string[]): boolean {
  const stamp = readStamp(stampFile);
  return stamp?.sources === sources && stamp.output === outputFingerprint(root, outputDirs);
}

async function transpileServer(root: string): Promise<void> {
  const dist = path.join(root, 'dist');
  // Built beside dist/src, then swapped in: stale files of deleted sources do not survive.
  const staging = path.join(dist, `.swc-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  const sources = SERVER_DIRS.flatMap((dir) => filesUnder(root, dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'));
  await Promise.all(sources.map(async (file) => {
    const out = path.join(staging, file.replace(/\.ts$/, '.js'));
    const { code, map } = await transformFile(path.join(root, file), { ...SWC_OPTIONS, filename: path.join(root, file), sourceFileName: path.relative(path.dirname(out), path.join(staging, '..', '..', file)) });
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${code}\n//# sourceMappingURL=${path.basename(out)}.map\n`);
    if (map) writeFileSync(`${out}.map`, map);
  }));
  for (const dir of SERVER_DIRS) {
    if (!existsSync(path.join(staging, dir))) continue;
    // Twice: a jest run started at the same moment may put its own build there in between.
    for (let attempt = 1; ; attempt++) {
      rmSync(path.join(dist, dir), { recursive: true, force: true });
      try {
        renameSync(path.join(staging, dir), path.join(dist, dir));
        break;
      } catch (err) {
        if (attempt >= 2) throw err;
      }
    }
  }
  rmSync(staging, { recursive: true, force: true });
  chmodSync(path.join(dist, 'src/cli/kiln.js'), 0o755);
  // tsc's incremental state described the files just replaced: the next `npm run build` or `npm run bench`
  // emits everything again (the bench's timing hooks replace module exports, which swc makes getters).
  for (const info of ['.tsbuildinfo.build', '.tsbuildinfo.bench']) rmSync(path.join(dist, info), { force: true });
}

/** Builds dist/src, dist/migrations and dist/web unless each is already built from the current sources. */
export async function buildDistForTests(root: string): Promise<void> {
  const stamps = path.join(root, 'dist', '.test-build');
  mkdirSync(stamps, { recursive: true });

  const serverFiles = [...SERVER_DIRS.flatMap((dir) => filesUnder(root, dir)), 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'test/support/build-dist.ts'];
  const serverSources = hashFiles(root, serverFiles, `swc ${swcVersion} ${JSON.stringify(SWC_OPTIONS)}`);
  const serverStamp = path.join(stamps, 'server.json');
  if (!upToDate(root, serverStamp, serverSources, ['dist/src', 'dist/migrations'])) {
    await transpileServer(root);
    writeFileSync(serverStamp, JSON.stringify({ sources: serverSources, output: outputFingerprint(root, ['dist/src', 'dist/migrations']) }));
  }

  const webSources = hashFiles(root, [...filesUnder(root, 'web'), 'package-lock.json'], '');
  const webStamp = path.join(stamps, 'web.json');
  if (!upToDate(root, webStamp, webSources, ['dist/web']) || !existsSync(path.join(root, 'dist/web/index.html'))) {
    execFileSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
    writeFileSync(webStamp, JSON.stringify({ sources: webSources, output: outputFingerprint(root, ['dist/web']) }));
  }
}
