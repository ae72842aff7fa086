import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { BackupFormatError, readBackup, summarizeBackup, type BackupEvent } from './backup-reader';
import { BackupWriter, type BackupHeader, type BackupSummary } from './backup-writer';
import { compressAboveThreshold, decompressIfGzip } from './compression';

type Tables = Array<[name: string, rows: string[]]>;

function header(tables: string[]): BackupHeader {
  return { kilnVersion: '0.1.0', schemaVersion: '20240101', createdAt: '2025-01-02T03:04:05.000Z', tables, options: { note: 'test' } };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes while a consumer reads, as production does (the output applies backpressure). */
async function writeBackup(tables: Tables, head: BackupHeader = header(tables.map(([name]) => name))): Promise<{ bytes: Buffer; summary: BackupSummary }> {
  const writer = new BackupWriter(head);
  const bytes = collect(writer.output);
  for (const [name, rows] of tables) {
    await writer.beginTable(name);
    for (const row of rows) await writer.writeRow(row);
    await writer.endTable();
  }
  const summary = await writer.finish();
  return { bytes: await bytes, summary };
}

/** Feeds the bytes in small pieces so lines (and UTF-8 characters) straddle chunks. */
function chunked(bytes: Buffer, size = 7): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );
}

async function readAll(bytes: Buffer, options?: { maxLineBytes?: number }): Promise<BackupEvent[]> {
  const events: BackupEvent[] = [];
  for await (const event of readBackup(chunked(bytes, 4096), options)) events.push(event);
  return events;
}

async function compress(bytes: Buffer, threshold?: number): Promise<{ bytes: Buffer; compressed: boolean }> {
  const { stream, compressed } = compressAboveThreshold(threshold);
  const out = collect(stream);
  await pipeline(chunked(bytes, 64 * 1024), stream);
  return { bytes: await out, compressed: await compressed };
}

function bigRows(count: number): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ id: `row-${i}`, amount: '1234.50', note: `payment ${i} `.repeat(12) }));
}

const TRICKY_ROWS = [
  '{"id":"c1","email":"a@b","amount":12.50,"big":123456789012345678901234567890.000001}',
  '{"id":"c2","name":"Zoë 🏺 陶器 \\"quoted\\" back\\\\slash","text":"line1\\nline2\\r\\t"}',
  '{"id":"c3","sep":"\u2028\u2029","nested":{"a":[1,{"b":null}]},"empty":""}',
];
const TABLES: Tables = [
  ['User', TRICKY_ROWS],
  ['Loan', []],
  ['Repayment', ['{"id":"r1","amount":12.50}']],
  ['we"ird\\name\n🏺', ['{}']],
  ['Empty', []],
];

describe('backup round trip', () => {
  it('reads back the same rows in order, with counts and checksum', async () => {
    const { bytes, summary } = await writeBackup(TABLES);
    const events: BackupEvent[] = [];
    for await (const event of readBackup(chunked(bytes))) events.push(event);
    const rows = (table: string): string[] => events.flatMap((e) => (e.kind === 'row' && e.table === table ? [e.json] : []));
    for (const [name, written] of TABLES) expect(rows(name)).toEqual(written);
    expect(events.filter((e) => e.kind === 'table').map((e) => e.kind === 'table' && e.name)).toEqual(TABLES.map(([n]) => n));
    expect(events[0]).toEqual({ kind: 'header', header: header(TABLES.map(([n]) => n)), formatVersion: 1, format: 'kiln-backup' });
    const end = events.at(-1);
    expect(end).toMatchObject({ kind: 'end', recordCounts: summary.recordCounts, checksum: summary.checksum, computedChecksum: summary.checksum, signature: undefined });
    expect(summary.recordCounts).toEqual({ User: 3, Loan: 0, Repayment: 1, 'we"ird\\name\n🏺': 1, Empty: 0 });
    expect(summary.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is one JSON document in the documented line layout', async () => {
    const { bytes, summary } = await writeBackup([['User', ['{"id":"c1"}', '{"id":"c2"}']], ['Loan', []]]);
    const doc = JSON.parse(bytes.toString('utf8'));
    expect(doc).toEqual({
      format: 'kiln-backup',
      formatVersion: 1,
      header: header(['User', 'Loan']),
      data: { User: [{ id: 'c1' }, { id: 'c2' }], Loan: [] },
      recordCounts: { User: 2, Loan: 0 },
      checksum: { algorithm: 'sha256', value: summary.checksum },
    });
    expect(bytes.toString('utf8').split('\n')).toEqual([
      `{"format":"kiln-backup","formatVersion":1,"header":${JSON.stringify(header(['User', 'Loan']))},`,
      '"data":{',
      '"User":[',
      '{"id":"c1"},',
      '{"id":"c2"}',
      '],',
      '"Loan":[',
      ']',
      '},',
      '"recordCounts":{"User":2,"Loan":0},',
      `"checksum":{"algorithm":"sha256","value":"${summary.checksum}"}}`,
      '',
    ]);
  });

  it('keeps numerics exact and handles unicode, escapes and odd table names', async () => {
    const { bytes } = await writeBackup(TABLES);
    const doc = JSON.parse(bytes.toString('utf8'));
    expect(Object.keys(doc.data)).toEqual(TABLES.map(([n]) => n));
    expect(bytes.toString('utf8')).toContain('"amount":12.50,"big":123456789012345678901234567890.000001');
    expect(doc.data.User[1].name).toBe('Zoë 🏺 陶器 "quoted" back\\slash');
  });

  it('writes and reads a backup with no tables', async () => {
    const { bytes, summary } = await writeBackup([]);
    expect(JSON.parse(bytes.toString('utf8')).data).toEqual({});
    expect(summary.recordCounts).toEqual({});
    expect(await summarizeBackup(chunked(bytes))).toEqual({ header: header([]), recordCounts: {}, checksum: summary.checksum, computedChecksum: summary.checksum });
  });

  it('counts a table named __proto__ like any other', async () => {
    const { bytes, summary } = await writeBackup([['__proto__', ['{"a":1}']]]);
    expect(Object.hasOwn(summary.recordCounts, '__proto__')).toBe(true);
    expect((await summarizeBackup(chunked(bytes))).recordCounts).toEqual(summary.recordCounts);
  });

  const jq = spawnSync('jq', ['--version']).status === 0;
  (jq ? it : it.skip)('opens in jq', async () => {
    const { bytes } = await writeBackup(TABLES);
    const result = spawnSync('jq', ['-c', '[.format, .recordCounts.User, .data.Repayment[0].id]'], { input: bytes });
    expect(result.stdout.toString().trim()).toBe('["kiln-backup",3,"r1"]');
  });
});

describe('checksum', () => {
  it('is stable for identical data, whatever the header says', async () => {
    const a = await writeBackup(TABLES);
    const b = await writeBackup(TABLES, { ...header(TABLES.map(([n]) => n)), createdAt: '2030-01-01T00:00:00.000Z', backupId: 'x' });
    expect(b.summary.checksum).toBe(a.summary.checksum);
  });

  it('changes when one row changes', async () => {
    const a = await writeBackup([['User', ['{"id":"c1","amount":12.50}']]]);
    const b = await writeBackup([['User', ['{"id":"c1","amount":12.5}']]]);
    expect(b.summary.checksum).not.toBe(a.summary.checksum);
  });

  it('is reported, not thrown, when the file disagrees', async () => {
    const { bytes, summary } = await writeBackup([['User', ['{"id":"c1"}']]]);
    const edited = Buffer.from(bytes.toString('utf8').replace('{"id":"c1"}', '{"id":"c9"}'));
    const read = await summarizeBackup(chunked(edited));
    expect(read.checksum).toBe(summary.checksum);
    expect(read.computedChecksum).not.toBe(summary.checksum);
  });
});

describe('compression', () => {
  it('keeps output under the threshold plain', async () => {
    const { bytes } = await writeBackup([['User', bigRows(100)]]);
    const out = await compress(bytes);
    expect(out.compressed).toBe(false);
    expect(out.bytes.equals(bytes)).toBe(true);
  });

  it('gzips output from 1 MiB on, and the reader still reads it', async () => {
    const rows = bigRows(10_000);
    const { bytes, summary } = await writeBackup([['User', rows], ['Loan', []]]);
    expect(bytes.length).toBeGreaterThan(1024 * 1024);
    const out = await compress(bytes);
    expect(out.compressed).toBe(true);
    expect([...out.bytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(out.bytes.length).toBeLessThan(bytes.length / 5);
    const read = await summarizeBackup(chunked(out.bytes, 1000));
    expect(read.recordCounts).toEqual({ User: 10_000, Loan: 0 });
    expect(read.computedChecksum).toBe(summary.checksum);
    expect((await collect(decompressIfGzip(chunked(out.bytes)))).equals(bytes)).toBe(true);
  });

  it('switches exactly at the threshold', async () => {
    expect((await compress(Buffer.alloc(99, 'a'), 100)).compressed).toBe(false);
    expect((await compress(Buffer.alloc(100, 'a'), 100)).compressed).toBe(true);
  });

  it('detects gzip by content, passing anything else through', async () => {
    const plain = Buffer.from('{"format":"kiln-backup"}\n');
    expect((await collect(decompressIfGzip(chunked(gzipSync(plain), 1)))).equals(plain)).toBe(true);
    expect((await collect(decompressIfGzip(chunked(plain, 1)))).equals(plain)).toBe(true);
    expect((await collect(decompressIfGzip(chunked(Buffer.from([0x1f]))))).equals(Buffer.from([0x1f]))).toBe(true);
    expect((await collect(decompressIfGzip(Readable.from([])))).length).toBe(0);
  });

  it('fails the stream on truncated gzip instead of ending short', async () => {
    const gz = gzipSync(Buffer.from('x'.repeat(10_000)));
    await expect(collect(decompressIfGzip(chunked(gz.subarray(0, gz.length - 3))))).rejects.toThrow();
  });
});

describe('reader errors', () => {
  let valid: Buffer;
  let gzipped: Buffer;
  beforeAll(async () => {
    valid = (await writeBackup([['User', ['{"id":"c1"}', '{"id":"c2"}']], ['Loan', []]])).bytes;
    gzipped = (await compress((await writeBackup([['User', bigRows(10_000)]])).bytes)).bytes;
  });

  const text = (): string => valid.toString('utf8');
  async function expectFormatError(bytes: Buffer | string, message: RegExp, options?: { maxLineBytes?: number }): Promise<void> {
    const read = readAll(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), options);
    await expect(read).rejects.toThrow(BackupFormatError);
    await expect(read).rejects.toThrow(message);
  }

  it('rejects input that is not JSON, or empty', async () => {
    await expectFormatError('hello world\n', /line 1: not a kiln-backup file/);
    await expectFormatError(Buffer.from([0x00, 0xff, 0x10, 0x0a]), /not a kiln-backup file/);
    await expectFormatError('', /empty/);
  });

  it('rejects a plain file cut at any byte', async () => {
    for (let cut = 0; cut < valid.length; cut++) {
      await expect(readAll(valid.subarray(0, cut))).rejects.toThrow(BackupFormatError);
    }
    await expectFormatError(valid.subarray(0, valid.length - 1), /line 11: the file ends in the middle of this line \(truncated\?\)/);
    const lines = text().split('\n');
    await expectFormatError(lines.slice(0, 9).join('\n') + '\n', /line 10: the file ends here \(truncated\?\); expected "recordCounts"/);
  });

  it('rejects truncated or corrupted gzip', async () => {
    for (const cut of [1, 2, 10, Math.floor(gzipped.length / 2), gzipped.length - 4, gzipped.length - 1]) {
      await expect(readAll(gzipped.subarray(0, cut))).rejects.toThrow(BackupFormatError);
    }
    const flipped = Buffer.from(gzipped);
    flipped[Math.floor(flipped.length / 2)] ^= 0x10;
    await expect(readAll(flipped)).rejects.toThrow(BackupFormatError);
  });

  it('rejects another format name and a newer formatVersion', async () => {
    await expectFormatError(text().replace('"kiln-backup"', '"other-backup"'), /line 1: not a kiln-backup file/);
    await expectFormatError(text().replace('"formatVersion":1', '"formatVersion":2'), /line 1: unsupported formatVersion 2/);
  });

  it('rejects a header that is not a valid header', async () => {
    await expectFormatError(text().replace('"kilnVersion":"0.1.0"', '"kilnVersion":1'), /invalid header: kilnVersion/);
    await expectFormatError(text().replace('"tables":["User","Loan"]', '"tables":["User"]'), /line 7: found table "Loan" but header.tables lists no more tables/);
  });

  it('rejects counts that do not match the rows', async () => {
    await expectFormatError(text().replace('"User":2', '"User":3'), /line 10: recordCounts says "User" has 3 rows but the file holds 2/);
    await expectFormatError(text().replace('"Loan":0}', '"Loan":0,"Ghost":0}'), /recordCounts names "Ghost"/);
  });

  it('rejects a line over maxLineBytes without buffering it', async () => {
    await expectFormatError(valid, /line 1: line is longer than the 64-byte limit/, { maxLineBytes: 64 });
    const longRow = (await writeBackup([['User', [`{"a":"${'x'.repeat(500)}"}`]]])).bytes;
    await expectFormatError(longRow, /line 4: line is longer than the 400-byte limit/, { maxLineBytes: 400 });
  });

  it('rejects trailing garbage', async () => {
    await expectFormatError(text() + 'x', /line 12: unexpected content after the checksum footer/);
    await expectFormatError(text() + '\n', /line 12: unexpected content after the checksum footer/);
  });

  it('rejects rows that are not JSON objects, and broken structure', async () => {
    await expectFormatError(text().replace('{"id":"c2"}', '[1,2]'), /line 5: expected a row \(a JSON object\)/);
    await expectFormatError(text().replace('{"id":"c2"}', '{"id":c2}'), /line 5: expected a row/);
    await expectFormatError(text().replace('{"id":"c2"}\n', ''), /line 5: expected a row/);
    await expectFormatError(text().replace('],\n"Loan"', ']\n"Loan"'), /line 7: expected the end of data/);
    await expectFormatError(text().replace('"data":{', '"data": {'), /line 2: expected "data":\{/);
    await expectFormatError(text().replace('"sha256"', '"md5"'), /line 11: expected "checksum"/);
  });
});

describe('writer', () => {
  function started(tables = ['User', 'Loan']): BackupWriter {
    const writer = new BackupWriter(header(tables));
    writer.output.resume();
    return writer;
  }

  it('throws on misuse', async () => {
    const writer = started();
    expect(() => writer.writeRow('{}')).toThrow(/no table is open/);
    expect(() => writer.endTable()).toThrow(/no table is open/);
    expect(() => writer.beginTable('Loan')).toThrow(/expected "User"/);
    await writer.beginTable('User');
    expect(() => writer.beginTable('Loan')).toThrow(/"User" is still open/);
    expect(() => writer.finish()).toThrow(/"User" is still open/);
    for (const bad of ['{"a":"x"}\n', '{"a":\r1}', '[1]', '', '{', ' {}']) expect(() => writer.writeRow(bad)).toThrow(/one JSON object on one line/);
    await writer.endTable();
    expect(() => writer.finish()).toThrow(/"Loan" was never written/);
    await writer.beginTable('Loan');
    await writer.endTable();
    expect(() => writer.beginTable('Extra')).toThrow(/every table in header.tables is written/);
    await writer.finish();
    expect(() => writer.beginTable('User')).toThrow(/already finished/);
    expect(() => new BackupWriter(header(['User', 'User']))).toThrow(/twice/);
  });

  it('abort fails the output and stops the writer', async () => {
    const writer = new BackupWriter(header(['User']));
    const bytes = collect(writer.output);
    await writer.beginTable('User');
    writer.abort(new Error('database went away'));
    await expect(bytes).rejects.toThrow('database went away');
    expect(() => writer.writeRow('{}')).toThrow(/aborted/);
  });

  it('waits for a slow consumer instead of buffering', async () => {
    const writer = new BackupWriter(header(['User']));
    await writer.beginTable('User');
    const row = JSON.stringify({ pad: 'x'.repeat(1000) });
    let written = 0;
    let blocked: Promise<void> | undefined;
    while (!blocked && written < 10_000) {
      const pending = writer.writeRow(row);
      const settled = await Promise.race([pending.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))]);
      written++;
      if (!settled) blocked = pending;
    }
    expect(blocked).toBeDefined();
    expect(written * row.length).toBeLessThan(2 * 1024 * 1024);
    const bytes = collect(writer.output);
    await blocked;
    await writer.endTable();
    await writer.finish();
    expect((await summarizeBackup(chunked(await bytes, 65536))).recordCounts).toEqual({ User: written });
  });

  it('rejects a pending write when the consumer goes away', async () => {
    const writer = new BackupWriter(header(['User']));
    await writer.beginTable('User');
    const row = JSON.stringify({ pad: 'x'.repeat(1000) });
    let pending = writer.writeRow(row);
    while (await Promise.race([pending.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))])) pending = writer.writeRow(row);
    writer.output.destroy();
    await expect(pending).rejects.toThrow(/closed before the backup was finished/);
  });
});
