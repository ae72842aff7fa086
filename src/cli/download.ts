import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { CliError, ExitCode } from './exit-codes';
import type { Gateway } from './gateway';
import { transferMeter } from './transfer-meter';
import type { ProgressOutput } from './job-follower';

interface DownloadFacts {
  id: string;
  filename: string;
  fileSize: number;
  fileChecksum: string | null;
  status: string;
}

/**
 * Downloads a stored backup to `output`. The bytes go to `output.part` first: a download cut off
 * is resumed from there by the next run (a Range request, valid only while the file's ETag, its
 * sha256, is the same). The finished file is held to the sha256 the gateway recorded before it
 * takes its name; a file that does not match is removed.
 */
export async function downloadBackup(gateway: Gateway, id: string, output: string | undefined, progress: ProgressOutput): Promise<{ path: string; bytes: number; sha256: string; checked: boolean }> {
  const { backup } = await gateway.query<{ backup: DownloadFacts | null }>('query($id: ID!) { backup(id: $id) { id filename fileSize fileChecksum status } }', { id });
  if (!backup) throw new CliError(`NOT_FOUND: no backup ${id}`);
  if (backup.status !== 'COMPLETED') throw new CliError(`backup ${id} is ${backup.status}: only a completed backup can be downloaded`);
  // The name comes from the database (the app's rows too): never a path.
  const named = path.basename(backup.filename);
  if (!output && (named === '' || named === '.' || named === '..')) throw new CliError(`backup ${id} has no usable file name (${JSON.stringify(backup.filename)}): give -o`);
  // -o names the file, or a folder to put it in under its own name.
  const target = output === undefined ? named : (await stat(output).catch(() => null))?.isDirectory() ? path.join(output, named) : output;
  if (await stat(target).catch(() => null)) throw new CliError(`${target} exists already: remove it or give -o another path`);
  const partial = `${target}.part`;
  const have = (await stat(partial).catch(() => null))?.size ?? 0;
  const resume = have > 0 && have < backup.fileSize && backup.fileChecksum !== null;
  const res = await gateway.get(`/backups/${encodeURIComponent(id)}/download`, resume ? { range: `bytes=${have}-`, 'if-range': `"${backup.fileChecksum}"` } : {});
  if (!res.ok || !res.body) {
    if (res.status === 401) throw new CliError('UNAUTHENTICATED: the gateway refused the token (sign in again: a new KILN_TOKEN, or --email)', ExitCode.UNAUTHENTICATED);
    const answer = (await res.json().catch(() => ({}))) as { errors?: Array<{ message: string; extensions?: { code?: string } }> };
    const e = answer.errors?.[0];
    throw new CliError(`${e?.extensions?.code ?? `HTTP ${res.status}`}: ${e?.message ?? 'the download failed'}`);
  }
  const from = res.status === 206 ? have : 0;
  if (from > 0 && progress !== 'json') process.stderr.write(`resuming ${partial} at ${from.toLocaleString('en')} bytes\n`);
  let done = from;
  const meter = transferMeter(progress, 'download', backup.fileSize, from);
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      meter.update(done);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream), counter, createWriteStream(partial, { flags: from > 0 ? 'a' : 'w', mode: 0o600 }));
  } catch (err) {
    throw new CliError(`the download was cut off at ${done.toLocaleString('en')} bytes (${(err as Error).message}): run the same command again to resume`, ExitCode.UNREACHABLE);
  } finally {
    meter.end();
  }
  if (done !== backup.fileSize) {
    throw new CliError(`the gateway sent ${done.toLocaleString('en')} of ${backup.fileSize.toLocaleString('en')} bytes: run the same command again to resume`, ExitCode.UNREACHABLE);
  }

  const hash = createHash('sha256');
  await pipeline(createReadStream(partial), hash);
  const sha256 = hash.digest('hex');
  if (backup.fileChecksum && sha256 !== backup.fileChecksum) {
    await rm(partial, { force: true });
    throw new CliError(`the downloaded file's sha256 ${sha256} is not the recorded ${backup.fileChecksum}: removed; run the download again`);
  }
  await rename(partial, target);
  // The app's own backups have no recorded sha256: their size was checked, their content cannot be.
  return { path: target, bytes: done, sha256, checked: backup.fileChecksum !== null };
}
