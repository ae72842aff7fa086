import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where the file of a `backup_records` row is. The row is data anybody with
 * database access may have written, so a path is only ever followed to a file
 * directly inside one of the backup folders (BACKUP_DIR, APP_BACKUP_DIR):
 * `..`, other folders and links leading out are refused, never read.
 */

/** Why `localPath` can never be read, or null when it may name a file in a backup folder. */
export function localPathProblem(localPath: string): string | null {
  if (localPath.includes('\0') || localPath.split(/[\\/]/).includes('..')) {
    return `localPath ${JSON.stringify(localPath)} leaves the backup folders: it is never read`;
  }
  return null;
}

/**
 * The file `localPath` names inside `dirs`: an absolute path must lie directly in
 * one of them; a relative one is looked up by its name in each. Null when no
 * such file exists; `refused` when the path points elsewhere.
 */
export async function resolveLocalFile(localPath: string, dirs: readonly string[]): Promise<{ dir: string; name: string } | { refused: string } | null> {
  const problem = localPathProblem(localPath);
  if (problem) return { refused: problem };
  const name = path.basename(localPath);
  // Kiln's own temporary and probe files start with a dot: never a backup.
  if (!name || name.startsWith('.')) return { refused: `localPath ${JSON.stringify(localPath)} names no backup file: it is never read` };
  let candidates: string[];
  if (path.isAbsolute(localPath)) {
    const dir = path.dirname(path.resolve(localPath));
    if (!dirs.includes(dir)) {
      return { refused: `localPath ${JSON.stringify(localPath)} is outside the backup folders (${dirs.join(', ')}): it is never read` };
    }
    candidates = [dir];
  } else {
    candidates = [...dirs];
  }
  for (const dir of candidates) {
    const file = path.join(dir, name);
    try {
      if (!(await stat(file)).isFile()) continue;
      // A link inside the folder that leads out of it is refused too.
      if (path.dirname(await realpath(file)) !== (await realpath(dir))) {
        return { refused: `localPath ${JSON.stringify(localPath)} is a link leading out of the backup folder: it is never read` };
      }
      return { dir, name };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return null;
}

/**
 * The public id and delivery type of a Cloudinary raw delivery URL, e.g.
 * `https://res.cloudinary.com/<cloud>/raw/upload/v1700000000/millenium-backups/backup_….json`
 * (the app's uploads); null for anything else.
 */
export function cloudCopyOfUrl(url: string): { publicId: string; type: 'upload' } | null {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return null;
  }
  // Only the app's own kind of upload: Kiln's copies are `authenticated`, and a row of the app's
  // (anybody with database access could write one) must never name one of them.
  const match = /\/raw\/upload\/(?:s--[^/]+--\/)?(?:v\d+\/)?(.+)$/.exec(pathname);
  if (!match) return null;
  const publicId = decodeURIComponent(match[1]);
  if (localPathProblem(publicId)) return null;
  return { publicId, type: 'upload' };
}

/** Where the app's backup service uploads a file: a raw `upload` with public id `millenium-backups/<filename>`. */
export function appCloudCopy(filename: string): { publicId: string; type: 'upload' } | null {
  if (!filename || localPathProblem(filename) || /[\\/]/.test(filename)) return null;
  return { publicId: `millenium-backups/${filename}`, type: 'upload' };
}
