import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Kiln's package.json, found upward (src/ in tests, dist/src/ when built): its folder and version. */
function findPackage(): { root: string; version: string } {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kiln' && pkg.version) return { root: dir, version: pkg.version };
    }
  }
  return { root: process.cwd(), version: '0.0.0' };
}

const found = findPackage();
export const KILN_VERSION = found.version;
/** The checkout Kiln runs from: `npm run build` writes the console to dist/web under it. */
export const PACKAGE_ROOT = found.root;
