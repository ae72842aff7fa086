import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Kiln's version from package.json (found upward: src/ in tests, dist/src/ when built). */
function readVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kiln' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}

export const KILN_VERSION = readVersion();
