import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

/** A random secret kept in a 0600 file, created on first use and reused after. */
export async function readOrCreateSecret(file: string): Promise<string> {
  if (!existsSync(file)) {
    const secret = randomBytes(32).toString('base64url');
    // 'wx': if another process created it meanwhile, keep theirs.
    await writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  return (await readFile(file, 'utf8')).trim();
}
