import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { BackupLimitError, DEFAULT_READ_LIMITS, readBackup, type BackupEvent, type ReadBackupOptions } from './backup-reader';
import { BackupWriter, type BackupHeader } from './backup-writer';
import { decompressIfGzip, EXPANSION_GRACE_BYTES, GzipExpansionError } from './compression';
import { loadConfig } from '../../config/config';

const MiB = 1024 * 1024;

function header(tables: string[]): BackupHeader {
  return { kilnVersion: '0.1.0', schemaVersion: '20240101', createdAt: '2025-01-02T03:04:05.000Z', tables, options: {} };
}

async function kilnBackup(rows: string[]): Promise<Buffer> {
  const writer = new BackupWriter(header(['Loan']));
  const chunks: Buffer[] = [];
  writer.output.on('data', (c: Buffer) => chunks.push(c));
  await writer.beginTable('Loan');
  for (const row of rows) await writer.writeRow(row);
  await writer.endTable();
  await writer.finish();
  return Buffer.concat(chunks);
}

/** A valid row with `spaces` bytes of whitespace inside it (JSON allows it): what bombs are made of. */
const paddedRow = (id: number, spaces: number) => `{"id":"loan-${id}",${' '.repeat(spaces)}"notes":"x"}`;

/** Chunks of 64 KiB handed over without waiting for I/O, as a fast disk or a warm cache does. */
function source(bytes: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
    })(),
  );
}

async function readAll(bytes: Buffer, options?: ReadBackupOptions): Promise<BackupEvent[]> {
  const events: BackupEvent[] = [];
  for await (const event of readBackup(source(bytes), options)) events.push(event);
  return events;
}

async function limitError(read: Promise<unknown>): Promise<BackupLimitError> {
  const err = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackupLimitError);
  return err as BackupLimitError;
}

describe('backup read limits', () => {
  it('config defaults are the reader defaults', () => {
    expect(loadConfig({}).backup.read).toEqual(DEFAULT_READ_LIMITS);
  });

  it('refuses a row over maxLineBytes inside gzip, and reads it under a higher bound', async () => {
    const file = gzipSync(await kilnBackup([paddedRow(1, 10), paddedRow(2, 2 * MiB)]));
    const err = await limitError(readAll(file, { maxLineBytes: MiB }));
    expect(err.limit).toBe('maxLineBytes');
    expect(err.message).toMatch(/^line 5: line is longer than the 1048576-byte limit$/);

    const events = await readAll(file, { maxLineBytes: 4 * MiB, maxGzipExpansion: 10_000 });
    expect(events.filter((e) => e.kind === 'row')).toHaveLength(2);
  });

  it('refuses a gzip whitespace bomb by its expansion ratio, long before its end', async () => {
    // 12 MiB of rows that are mostly spaces: ~12 KB of gzip (about 1000-fold).
    const plain = await kilnBackup(Array.from({ length: 12 }, (_, i) => paddedRow(i, MiB)));
    const bomb = gzipSync(plain, { level: 9 });
    expect(plain.length / bomb.length).toBeGreaterThan(500);

    let rows = 0;
    const read = (async () => {
      for await (const event of readBackup(source(bomb), { maxGzipExpansion: 50 })) if (event.kind === 'row') rows++;
    })();
    const err = await limitError(read);
    expect(err.limit).toBe('maxGzipExpansion');
    expect(err.message).toMatch(/^the gzip data expands more than 50-fold \(\d+ bytes from \d+; backups compress about 10-fold\)/);
    // Judged once the grace was used up: a few rows in, not at the end.
    expect(rows).toBeGreaterThanOrEqual(Math.floor(EXPANSION_GRACE_BYTES / MiB) - 1);
    expect(rows).toBeLessThan(12);

    // The default refuses it too; a limit above gzip's own maximum (1032) lets it through.
    expect((await limitError(readAll(bomb))).limit).toBe('maxGzipExpansion');
    expect((await readAll(bomb, { maxGzipExpansion: 2000 })).filter((e) => e.kind === 'row')).toHaveLength(12);
  });

  it('fails decompressIfGzip itself with the figures, and sets no limit unless asked', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * MiB, ' '), { level: 9 });
    const drain = async (stream: Readable) => {
      let bytes = 0;
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      return bytes;
    };
    const err = await drain(decompressIfGzip(source(bomb), { maxExpansion: 100 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GzipExpansionError);
    const { plainBytes, compressedBytes, maxExpansion } = err as GzipExpansionError;
    expect(plainBytes).toBeGreaterThan(EXPANSION_GRACE_BYTES);
    expect(plainBytes).toBeGreaterThan(maxExpansion * compressedBytes);
    expect(compressedBytes).toBeLessThanOrEqual(bomb.length);
    expect(await drain(decompressIfGzip(source(bomb)))).toBe(8 * MiB);
  });

  it('does not judge a file by its ratio before the grace is used up', async () => {
    const small = gzipSync(await kilnBackup([paddedRow(1, EXPANSION_GRACE_BYTES - 4096)]), { level: 9 });
    const events = await readAll(small, { maxGzipExpansion: 20 });
    expect(events.at(-1)).toMatchObject({ kind: 'end', recordCounts: { Loan: 1 } });
  });

  it('reads real-like rows at the lowest ratio the config allows', async () => {
    const rows = Array.from({ length: 40_000 }, (_, i) =>
      JSON.stringify({ id: randomBytes(12).toString('base64url'), loanNumber: `LN-${100_000 + i}`, principalAmount: String(1000 + (i % 977) * 50), status: 'ACTIVE', startDate: new Date(1.7e12 + i * 36e5).toISOString(), notes: null }),
    );
    const file = gzipSync(await kilnBackup(rows), { level: 9 });
    const events = await readAll(file, { maxGzipExpansion: 20 });
    expect(events.at(-1)).toMatchObject({ kind: 'end', recordCounts: { Loan: 40_000 } });
  });

  it('bounds a run of whitespace in an app format 1.0 file like a line', async () => {
    const app = Buffer.from(`{ "metadata": {${' '.repeat(2 * MiB)}} }`);
    const err = await limitError(readAll(gzipSync(app), { maxLineBytes: MiB }));
    expect(err.limit).toBe('maxLineBytes');
    expect(err.message).toMatch(/longer than the 1048576-byte limit, in or before metadata/);
  });

  it('lets the event loop turn while it reads, even when no chunk waits for I/O', async () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ id: `r-${i}`, amount: '1234.5', note: 'n'.repeat(100) }));
    const file = await kilnBackup(rows);
    expect(file.length).toBeGreaterThan(12 * MiB);
    let turns = 0;
    let timer: NodeJS.Immediate | undefined;
    const turn = () => {
      turns++;
      timer = setImmediate(turn);
    };
    timer = setImmediate(turn);
    try {
      await readAll(file);
    } finally {
      clearImmediate(timer);
    }
    // One turn per MiB read, at least.
    expect(turns).toBeGreaterThanOrEqual(Math.floor(file.length / MiB) - 1);
  });
});
