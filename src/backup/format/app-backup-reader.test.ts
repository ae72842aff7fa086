import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import {
  appBackupDocument,
  appBackupText,
  appChecksum,
  decimalString,
  signAppBackup,
  writeAppBackupFile,
  type AppBackupDocument,
  type AppRow,
} from '../../../test/support/app-backup-file';
import { freshDatabase } from '../../../test/support/test-database';
import { LENDING_TABLES } from '../../domain';
import { BackupCorruptError, BadUserInputError } from '../../errors/kiln-errors';
import { validateBackupFile } from '../../restore/backup-validator';
import type { LendingCatalog } from '../../restore/lending-catalog';
import { planRestore } from '../../restore/restore-plan';
import { APP_DATA_KEYS, readAppBackup } from './app-backup-reader';
import { BackupFormatError, readBackup, summarizeBackup, type BackupEvent } from './backup-reader';
import { BackupWriter } from './backup-writer';

const CREATED_AT = '2025-03-04T05:06:07.089Z';

/** Values JSON.stringify writes in its less common forms; the checksum must survive a parse and a stringify. */
const TRICKY: AppRow = {
  id: 'tricky',
  text: 'Zoë 🏺 陶器 "quoted" back\\slash\nline\r\t\b\f\u0000\u0001\u001f\u007f end',
  separators: '\u2028\u2029',
  // U+FEFF (a byte order mark at the start of a text, else a zero-width no-break space) anywhere in a value.
  byteOrderMarks: '\ufeff first, é\ufeff after a multi-byte character, \ufeff\ufeff twice, last \ufeff',
  loneHigh: '\ud800',
  loneLow: 'x\udc00y',
  highThenHigh: '\udbff\ud800',
  pair: '\ud83d\ude00',
  empty: '',
  point1: 0.1,
  big: 1e21,
  negZero: -0,
  tiny: 5e-324,
  max: 1.7976931348623157e308,
  small: -1.5e-7,
  micro: 0.000001,
  beyondSafe: 2 ** 53 + 2,
  amount: '1500.5',
  nothing: null,
  yes: true,
  no: false,
  json: {
    b: [1, 'x', null, true, { '0': [] }, [[[]]]],
    '10': 'ten',
    '2': 'two',
    a: {},
    '': 'empty key',
    '-1': 'negative',
    '01': 'leading zero',
    '4294967295': 'not an index',
    '4294967294': 'largest index',
    'ключ': { 'é': 'ü' },
  },
};
// An own "__proto__" key, as JSON.parse makes it (an object literal would set the prototype).
const protoRow = (): AppRow => JSON.parse('{"id":"proto","__proto__":{"polluted":true},"constructor":1}');

function sampleRows(): Partial<Record<string, AppRow[]>> {
  return {
    companySettings: [{ id: 'default', name: 'Millennium Potters', currencySymbol: '₦', createdAt: CREATED_AT, updatedAt: CREATED_AT }],
    users: [
      { id: 'u1', email: 'admin@example.com', role: 'ADMIN', isActive: true, supervisorId: null, loginCount: 3, createdAt: CREATED_AT },
      { id: 'u2', email: 'officer@example.com', role: 'CREDIT_OFFICER', isActive: false, supervisorId: 'u1', loginCount: 0, createdAt: CREATED_AT },
    ],
    loans: [structuredClone(TRICKY), protoRow(), { id: 'l3', principalAmount: '120000', interestRate: '2.5' }],
    auditLogs: [{ id: 'a1', action: 'LOGIN', before: null, after: { nested: [1, { deep: 'x' }] }, createdAt: CREATED_AT }],
    staffSessions: [{ id: 's1', userId: 'u1', createdAt: CREATED_AT }],
    reportSessions: [],
  };
}

function sampleDocument(options: { includeAuditLogs?: boolean; includeSessions?: boolean } = {}): AppBackupDocument {
  return appBackupDocument(sampleRows(), { createdAt: CREATED_AT, ...options });
}

function bytesOf(doc: AppBackupDocument | string): Buffer {
  return Buffer.from(typeof doc === 'string' ? doc : appBackupText(doc), 'utf8');
}

/** Pieces of `size` bytes, so tokens and UTF-8 characters straddle chunks. */
function* pieces(bytes: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function* asyncPieces(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  yield* pieces(bytes, size);
}

async function readApp(bytes: Buffer, size = 4096): Promise<BackupEvent[]> {
  const events: BackupEvent[] = [];
  for await (const event of readAppBackup(asyncPieces(bytes, size))) events.push(event);
  return events;
}

async function readVia(bytes: Buffer, size = 4096): Promise<BackupEvent[]> {
  const events: BackupEvent[] = [];
  for await (const event of readBackup(Readable.from(pieces(bytes, size)))) events.push(event);
  return events;
}

function endOf(events: BackupEvent[]): Extract<BackupEvent, { kind: 'end' }> {
  const end = events.at(-1);
  if (end?.kind !== 'end') throw new Error('no end event');
  return end;
}

async function formatError(input: Buffer | string, direct = false): Promise<BackupFormatError> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  try {
    await (direct ? readApp(bytes, 1000) : readVia(bytes, 1000));
  } catch (err) {
    expect(err).toBeInstanceOf(BackupFormatError);
    return err as BackupFormatError;
  }
  throw new Error('expected a BackupFormatError, but the file was read');
}

/** A signed sample changed by `change`, re-signed so the checks past the checksum are reached. */
function changed(change: (doc: AppBackupDocument) => void, resign = true): string {
  const doc = sampleDocument({ includeAuditLogs: true, includeSessions: true });
  change(doc);
  if (resign) signAppBackup(doc);
  return appBackupText(doc);
}

/** Rebuilds `doc.data` with its keys in the given order. */
function reorderData(doc: AppBackupDocument, keys: string[]): void {
  const data = doc.data;
  doc.data = Object.fromEntries(keys.map((k) => [k, data[k]]));
}

describe('app format 1.0 reader: events', () => {
  it('yields header, tables, rows and end in the shape of Kiln’s own reader', async () => {
    const doc = sampleDocument({ includeAuditLogs: true, includeSessions: true });
    const events = await readApp(bytesOf(doc));
    const tables = Object.values(APP_DATA_KEYS);
    expect(events[0]).toEqual({
      kind: 'header',
      formatVersion: 1,
      format: 'app-1.0',
      header: {
        kilnVersion: 'app 1.0.0',
        schemaVersion: 'app-format-1.0',
        createdAt: CREATED_AT,
        tables,
        options: { includeAuditLogs: true, includeSessions: true },
      },
    });
    // table, rows, tableEnd for every key, in file order.
    const expected: BackupEvent[] = [];
    for (const [key, table] of Object.entries(APP_DATA_KEYS)) {
      expected.push({ kind: 'table', name: table });
      for (const row of doc.data[key]) expected.push({ kind: 'row', table, json: JSON.stringify(row), value: JSON.parse(JSON.stringify(row)), parsed: true });
      expected.push({ kind: 'tableEnd', name: table, rows: doc.data[key].length });
    }
    expect(events.slice(1, -1)).toEqual(expected);
    const end = endOf(events);
    expect(end.recordCounts).toEqual(Object.fromEntries(Object.entries(APP_DATA_KEYS).map(([key, table]) => [table, doc.data[key].length])));
    expect(end.checksum).toBe(doc.metadata.checksum);
    expect(end.computedChecksum).toBe(doc.metadata.checksum);
  });

  it('is what readBackup and summarizeBackup give for such a file, with any chunking', async () => {
    const doc = sampleDocument({ includeAuditLogs: true });
    const bytes = bytesOf(doc);
    const direct = await readApp(bytes);
    for (const size of [1, 2, 3, 7, 64 * 1024]) expect(await readVia(bytes, size)).toEqual(direct);
    const summary = await summarizeBackup(Readable.from(pieces(bytes, 100)));
    expect(summary.checksum).toBe(doc.metadata.checksum);
    expect(summary.computedChecksum).toBe(doc.metadata.checksum);
    expect(summary.header.tables).toContain('AuditLog');
  });

  it('keeps every tricky value: the row json is the app’s JSON.stringify of the row, and the checksum matches', async () => {
    const doc = sampleDocument();
    for (const size of [1, 5, 4096]) {
      const events = await readApp(bytesOf(doc), size);
      const rows = events.flatMap((e) => (e.kind === 'row' && e.table === 'Loan' ? [e] : []));
      expect(rows.map((r) => r.json)).toEqual(doc.data.loans.map((row) => JSON.stringify(row)));
      expect(rows[0].value).toEqual(JSON.parse(JSON.stringify(TRICKY)));
      expect(Object.is(rows[0].value.negZero, 0)).toBe(true); // JSON.stringify(-0) is "0"
      expect(rows[0].value.loneHigh).toBe('\ud800');
      expect(Object.keys(rows[0].value.json as object)).toEqual(Object.keys(TRICKY.json as object));
      expect(Object.hasOwn(rows[1].value, '__proto__')).toBe(true);
      expect(Object.getPrototypeOf(rows[1].value)).toBe(Object.prototype);
      expect(endOf(events).computedChecksum).toBe(appChecksum(doc));
      expect(endOf(events).computedChecksum).toBe(doc.metadata.checksum);
    }
  });

  it('reads a U+FEFF written as a \\ufeff escape as the character itself', async () => {
    const doc = sampleDocument();
    const text = appBackupText(doc);
    expect(text).toContain('\ufeff first');
    const escaped = Buffer.from(text.replaceAll('\ufeff', '\\ufeff'));
    expect(escaped.includes(Buffer.from('\ufeff'))).toBe(false);
    const events = await readApp(escaped, 7);
    const tricky = events.find((e) => e.kind === 'row' && e.table === 'Loan');
    expect(tricky?.kind === 'row' && tricky.value.byteOrderMarks).toBe(TRICKY.byteOrderMarks);
    expect(endOf(events).computedChecksum).toBe(doc.metadata.checksum);
  });

  it('computes the checksum the app does: sha256 of the compact JSON of { metadata without checksum, data }', async () => {
    const doc = sampleDocument();
    const { checksum, ...metadata } = doc.metadata;
    const expected = createHash('sha256').update(JSON.stringify({ metadata, data: doc.data })).digest('hex');
    expect(checksum).toBe(expected);
    expect(endOf(await readApp(bytesOf(doc))).computedChecksum).toBe(expected);
  });

  it('does not depend on the file’s whitespace, only on its content', async () => {
    const doc = sampleDocument();
    for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, '\t'), ` \r\n${JSON.stringify(doc, null, 4)}\n\n`]) {
      const end = endOf(await readVia(bytesOf(text)));
      expect(end.computedChecksum).toBe(doc.metadata.checksum);
    }
  });

  it('reports a different computed checksum when one value changed', async () => {
    for (const change of [
      (doc: AppBackupDocument) => (doc.data.users[1].email = 'someone@else.com'),
      (doc: AppBackupDocument) => (doc.data.loans[2].principalAmount = '120001'),
      (doc: AppBackupDocument) => (doc.metadata.createdAt = '2025-03-04T05:06:07.090Z'),
      (doc: AppBackupDocument) => ((doc.data.loans[0].json as AppRow).b = []),
    ]) {
      const end = endOf(await readApp(bytesOf(changed(change, false))));
      expect(end.checksum).toBe(sampleDocument({ includeAuditLogs: true, includeSessions: true }).metadata.checksum);
      expect(end.computedChecksum).not.toBe(end.checksum);
    }
  });

  it('leaves empty auditLogs and staffSessions out of the header: "not included"', async () => {
    const doc = sampleDocument();
    expect(doc.data.auditLogs).toEqual([]);
    expect(doc.data.staffSessions).toEqual([]);
    const events = await readApp(bytesOf(doc));
    const header = events[0].kind === 'header' ? events[0].header : undefined;
    expect(header?.tables).toEqual(Object.values(APP_DATA_KEYS).filter((t) => t !== 'AuditLog' && t !== 'StaffSession'));
    expect(header?.options).toEqual({ includeAuditLogs: false, includeSessions: false });
    expect(events.some((e) => (e.kind === 'table' || e.kind === 'tableEnd') && (e.name === 'AuditLog' || e.name === 'StaffSession'))).toBe(false);
    expect(Object.keys(endOf(events).recordCounts)).not.toContain('AuditLog');
    // The empty arrays are still part of what the app hashed.
    expect(endOf(events).computedChecksum).toBe(doc.metadata.checksum);
    const plan = planRestore(header!.tables, { columns: new Map(), foreignKeys: [] });
    expect(plan.replaced).not.toContain('AuditLog');
    expect(plan.replaced).toContain('ReportSession'); // an empty required table is restored as empty
  });

  it('passes an unknown data key through under its own name, for planRestore to refuse; a missing one is refused too', async () => {
    const text = changed((doc) => {
      doc.metadata.recordCounts.widgets = 1;
      doc.data.widgets = [{ id: 'w1' }];
    });
    const events = await readVia(bytesOf(text));
    const header = events[0].kind === 'header' ? events[0].header : undefined;
    expect(header?.tables.at(-1)).toBe('widgets');
    expect(endOf(events).recordCounts.widgets).toBe(1);
    expect(() => planRestore(header!.tables, { columns: new Map(), foreignKeys: [] })).toThrow(/tables this database does not have: widgets/);

    const without = changed((doc) => {
      delete doc.metadata.recordCounts.loans;
      delete doc.data.loans;
    });
    const tables = (await readVia(bytesOf(without)))[0];
    expect(tables.kind === 'header' && tables.header.tables).not.toContain('Loan');
    expect(() => planRestore(tables.kind === 'header' ? tables.header.tables : [], { columns: new Map(), foreignKeys: [] })).toThrow(BadUserInputError);
  });

  it('is read by readBackup when gzip-compressed, and corrupt gzip still maps to a format error', async () => {
    const doc = sampleDocument({ includeSessions: true });
    const gz = gzipSync(bytesOf(doc));
    const events = await readVia(gz, 999);
    expect(events).toEqual(await readApp(bytesOf(doc)));
    expect(endOf(events).computedChecksum).toBe(doc.metadata.checksum);
    const error = await formatError(gz.subarray(0, gz.length - 20));
    expect(error.message).toMatch(/gzip data is corrupt or truncated/);
  });

  it('still sends Kiln’s own files to Kiln’s parser, whose header says so', async () => {
    const writer = new BackupWriter({ kilnVersion: '0.1.0', schemaVersion: 's', createdAt: CREATED_AT, tables: ['User'], options: {} });
    const chunks: Buffer[] = [];
    const done = (async () => {
      for await (const chunk of writer.output) chunks.push(chunk as Buffer);
    })();
    await writer.beginTable('User');
    await writer.writeRow('{"id":"u1"}');
    await writer.endTable();
    await writer.finish();
    await done;
    const events = await readVia(Buffer.concat(chunks), 3);
    expect(events[0]).toMatchObject({ kind: 'header', format: 'kiln-backup' });
    expect(events[2]).toEqual({ kind: 'row', table: 'User', json: '{"id":"u1"}', value: { id: 'u1' }, parsed: true });
  });

  it('feeds the restore validator, which refuses a file whose data no longer matches its checksum', async () => {
    const catalog: LendingCatalog = { foreignKeys: [], columns: new Map() };
    for (const table of LENDING_TABLES) catalog.columns.set(table, new Map());
    const doc = sampleDocument();
    for (const [key, table] of Object.entries(APP_DATA_KEYS)) {
      for (const name of new Set(doc.data[key].flatMap((row) => Object.keys(row)))) catalog.columns.get(table)?.set(name, { name, required: false, kind: 'other' });
    }
    const validate = (text: string) => validateBackupFile(Readable.from(pieces(bytesOf(text), 512)), catalog, null, () => undefined, new AbortController().signal);
    const ok = await validate(appBackupText(doc));
    expect(ok.checksum).toBe(doc.metadata.checksum);
    expect(ok.plan.replaced).not.toContain('AuditLog');
    expect(ok.rows).toBe(Object.values(doc.data).reduce((n, rows) => n + rows.length, 0));

    const tampered = sampleDocument();
    tampered.data.users[0].email = 'intruder@example.com';
    await expect(validate(appBackupText(tampered))).rejects.toBeInstanceOf(BackupCorruptError);
    await expect(validate(appBackupText(tampered))).rejects.toThrow(/does not match its checksum/);
    await expect(validate(changed((d) => (d.metadata.version = '2.0')))).rejects.toThrow(/Not a valid Kiln backup: unsupported format version "2.0"/);
    // A column the database does not know is BAD_USER_INPUT, as for Kiln's own files.
    await expect(validate(changed((d) => (d.data.users[0].shoeSize = 44)))).rejects.toThrow(/column this database does not know: "shoeSize"/);
  });
});

describe('app format 1.0 reader: strictness', () => {
  // readBackup sends a file to readAppBackup only when it starts {"metadata" or {"data": the others go to Kiln's parser.
  const notStartingWithMetadata: Array<[string, () => string, RegExp]> = [
    ['data before metadata', () => changed((d) => {
      const { metadata, data } = d;
      for (const k of Object.keys(d)) delete d[k];
      Object.assign(d, { data, metadata });
    }), /metadata must come first/],
    ['an unknown key before metadata', () => `{"note":1,${appBackupText(sampleDocument()).slice(1)}`, /unexpected top-level key "note"/],
    ['no metadata', () => '{}\n', /has no metadata/],
  ];
  it.each(notStartingWithMetadata)('rejects %s', async (name, make, message) => {
    expect((await formatError(make(), true)).message).toMatch(message);
    // readBackup also takes a file starting {"data" as the app's (and says what is wrong with it).
    const viaReadBackup = name === 'data before metadata' ? message : /not a kiln-backup file, nor an app format 1.0 backup/;
    expect((await formatError(make())).message).toMatch(viaReadBackup);
  });

  const cases: Array<[string, () => string, RegExp]> = [
    ['an unknown top-level key', () => changed((d) => (d.extra = 1)), /unexpected top-level key "extra"/],
    ['metadata twice', () => appBackupText(sampleDocument()).replace(/\n {2}"data":/, '\n  "metadata": {},\n  "data":'), /"metadata" twice/],
    ['no data', () => JSON.stringify({ metadata: sampleDocument().metadata }), /has no data/],
    ['a newer version', () => changed((d) => (d.metadata.version = '2.0')), /unsupported format version "2\.0"/],
    ['no version', () => changed((d) => delete (d.metadata as Record<string, unknown>).version), /metadata has no version/],
    ['no checksum', () => changed((d) => delete d.metadata.checksum, false), /has no checksum/],
    ['a checksum that is not 64 hex digits', () => changed((d) => (d.metadata.checksum = 'abc123'), false), /64 lowercase hex digits/],
    ['an upper-case checksum', () => changed((d) => (d.metadata.checksum = d.metadata.checksum!.toUpperCase()), false), /64 lowercase hex digits/],
    ['an unknown metadata field', () => changed((d) => (d.metadata.comment = 'hi')), /unknown field "comment"/],
    ['metadata that is not an object', () => changed((d) => ((d as Record<string, unknown>).metadata = [1]), false), /metadata must be a JSON object, found an array/],
    ['a createdAt that is not a date', () => changed((d) => (d.metadata.createdAt = 'yesterday')), /createdAt must be an ISO date/],
    ['no recordCounts', () => changed((d) => delete (d.metadata as Record<string, unknown>).recordCounts), /has no recordCounts/],
    ['recordCounts not an object', () => changed((d) => ((d.metadata as Record<string, unknown>).recordCounts = [19])), /recordCounts must be a JSON object/],
    ['a count that is not a count', () => changed((d) => ((d.metadata.recordCounts as Record<string, unknown>).users = '2')), /recordCounts\.users must be a row count/],
    ['a negative count', () => changed((d) => (d.metadata.recordCounts.reportSessions = -1)), /recordCounts\.reportSessions must be a row count/],
    ['data keys in another order', () => changed((d) => reorderData(d, ['loanTypes', 'companySettings', ...Object.keys(d.data).slice(2)])), /"loanTypes" where metadata.recordCounts lists "companySettings" next/],
    ['a data key recordCounts does not list', () => changed((d) => (d.data.widgets = [])), /data holds "widgets", which metadata.recordCounts does not list/],
    ['a recordCounts key data lacks', () => changed((d) => delete d.data.reportSessions), /data lacks "reportSessions"/],
    ['a count above the rows', () => changed((d) => (d.metadata.recordCounts.users = 3)), /"users" has 3 rows but data.users holds 2/],
    ['a count below the rows', () => changed((d) => (d.metadata.recordCounts.users = 1)), /"users" has 1 rows but data.users holds more/],
    ['rows in an excluded table', () => changed((d) => (d.metadata.recordCounts.auditLogs = 0)), /"auditLogs" has 0 rows but data.auditLogs holds more/],
    ['a data value that is an object', () => changed((d) => ((d.data as Record<string, unknown>).users = { u1: { id: 'u1' } })), /data.users must be an array, found an object/],
    ['a data value that is a number', () => changed((d) => ((d.data as Record<string, unknown>).users = 2)), /data.users must be an array, found number 2/],
    ['data that is an array', () => changed((d) => ((d as Record<string, unknown>).data = [])), /data must be a JSON object, found an array/],
    ['data that is a string', () => changed((d) => ((d as Record<string, unknown>).data = 'x')), /data must be a JSON object, found string "x"/],
    ['a row that is a number', () => changed((d) => ((d.data.users as unknown[])[1] = 7)), /data.users\[1\] must be a JSON object \(a row\), found number 7/],
    ['a row that is an array', () => changed((d) => ((d.data.users as unknown[])[0] = [])), /data.users\[0\] must be a JSON object \(a row\), found an array/],
    ['a row that is null', () => changed((d) => ((d.data.users as unknown[])[0] = null)), /data.users\[0\] must be a JSON object \(a row\), found null/],
    ['invalid JSON', () => appBackupText(sampleDocument()).replace('"version": "1.0"', '"version": \'1.0\''), /invalid JSON/],
    ['a missing comma', () => appBackupText(sampleDocument()).replace('"id": "u2"', '"id": "u2" "x": 1'), /invalid JSON/],
    ['trailing garbage', () => `${appBackupText(sampleDocument())}\nx`, /trailing garbage/],
    ['a second document', () => `${appBackupText(sampleDocument())} {}`, /trailing garbage/],
  ];
  it.each(cases)('rejects %s', async (_name, make, message) => {
    const error = await formatError(make());
    expect(error.message).toMatch(message);
    // The same through readAppBackup directly.
    expect((await formatError(make(), true)).message).toMatch(message);
  });

  it('accepts trailing whitespace', async () => {
    const doc = sampleDocument();
    expect(endOf(await readVia(bytesOf(`${appBackupText(doc)}\n \r\n\t`))).computedChecksum).toBe(doc.metadata.checksum);
  });

  it('rejects a document that is not an object, and empty input', async () => {
    expect((await formatError('[{"metadata":{}}]', true)).message).toMatch(/the document is an array/);
    expect((await formatError('"metadata"', true)).message).toMatch(/the document is string "metadata"/);
    expect((await formatError('', true)).message).toMatch(/empty/);
    // readBackup sends anything not starting {"metadata" to Kiln's parser, which names both formats.
    expect((await formatError('[{"metadata":{}}]\n')).message).toMatch(/not a kiln-backup file, nor an app format 1.0 backup/);
  });

  it('rejects bytes that are not UTF-8', async () => {
    const bytes = bytesOf(sampleDocument());
    const at = bytes.indexOf('admin@example.com');
    const broken = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xfe]), bytes.subarray(at)]);
    expect((await formatError(broken)).message).toMatch(/invalid JSON/);
  });

  it('rejects the file cut at any point (truncated)', async () => {
    const bytes = bytesOf(sampleDocument());
    const text = bytes.toString('utf8');
    const end = text.trimEnd().length;
    // Every cut in the first and last 300 bytes, and every 97th byte between.
    const cuts = new Set<number>();
    for (let i = 0; i < Math.min(300, end); i++) cuts.add(i);
    for (let i = Math.max(0, end - 300); i < end; i++) cuts.add(i);
    for (let i = 0; i < end; i += 97) cuts.add(i);
    for (const cut of cuts) {
      const piece = bytes.subarray(0, cut);
      await expect(readVia(piece, 64)).rejects.toBeInstanceOf(BackupFormatError);
      if (cut > 0) await expect(readApp(piece, 64)).rejects.toThrow(/the file ends before the JSON document is complete \(truncated\?\)/);
    }
    await expect(readApp(bytes.subarray(0, end - 1))).rejects.toThrow(/the file ends before the JSON document is complete \(truncated\?\)/);
  });

  it('bounds memory: a row, string or metadata over the size limit fails, however many small rows there are', async () => {
    const small = Array.from({ length: 2000 }, (_, i) => ({ id: `u${i}`, email: `user${i}@example.com` }));
    const many = bytesOf(appBackupDocument({ users: small }, { createdAt: CREATED_AT }));
    expect(many.length).toBeGreaterThan(100_000);
    const read = async (bytes: Buffer, maxLineBytes: number) => {
      const events: BackupEvent[] = [];
      for await (const event of readBackup(Readable.from(pieces(bytes, 1000)), { maxLineBytes })) events.push(event);
      return events;
    };
    expect(endOf(await read(many, 200_000)).recordCounts.User).toBe(2000);
    const bigRow = bytesOf(appBackupDocument({ users: [{ id: 'u1', note: 'x'.repeat(300_000) }] }, { createdAt: CREATED_AT }));
    await expect(read(bigRow, 200_000)).rejects.toThrow(/a value is longer than the 200000-byte limit, in data.users after 0 row\(s\)/);
    const bigString = bytesOf(changed((d) => ((d.data.users as unknown[])[1] = 'y'.repeat(300_000))));
    await expect(read(bigString, 200_000)).rejects.toThrow(/longer than the 200000-byte limit, in data.users after 1 row/);
    const bigMetadata = bytesOf(changed((d) => (d.metadata.systemVersion = 'z'.repeat(300_000))));
    await expect(read(bigMetadata, 200_000)).rejects.toThrow(/longer than the 200000-byte limit, in or before metadata/);
  });

  it('delivers the events before a bad row, then the error', async () => {
    const text = changed((d) => ((d.data.users as unknown[])[1] = 7));
    const seen: BackupEvent[] = [];
    await expect(
      (async () => {
        for await (const event of readAppBackup(asyncPieces(bytesOf(text), 1 << 20))) seen.push(event);
      })(),
    ).rejects.toThrow(/data.users\[1\]/);
    expect(seen.at(-1)).toMatchObject({ kind: 'row', table: 'User', value: { id: 'u1' } });
  });
});

// ---------------------------------------------------------------------------------------------

const KEYS = Object.keys(APP_DATA_KEYS);

function syntheticRow(key: string, i: number): AppRow {
  const at = new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString();
  return {
    id: `${key}-${i}`,
    loanNumber: `LN-${i}`,
    principalAmount: String(1000 + (i % 977) + 0.5),
    status: i % 2 ? 'ACTIVE' : 'COMPLETED',
    termCount: 12,
    notes: i % 3 ? null : `note "q" ${i} 陶器\n`,
    meta: { tags: ['a', 'b'], score: i / 7 },
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * A format 1.0 file, byte for byte what JSON.stringify(doc, null, 2) gives, produced piece by
 * piece without holding the document: one pass for the checksum, one for the text.
 */
function syntheticFile(counts: Record<string, number>): { checksum: string; chunks: (rowEnds?: number[]) => Generator<Buffer> } {
  const metadata = { version: '1.0', createdAt: CREATED_AT, systemVersion: '1.0.0', recordCounts: counts };
  const hash = createHash('sha256');
  hash.update(`{"metadata":${JSON.stringify(metadata)},"data":{`);
  KEYS.forEach((key, k) => {
    hash.update(`${k ? ',' : ''}${JSON.stringify(key)}:[`);
    let batch = '';
    for (let i = 0; i < counts[key]; i++) {
      batch += (i ? ',' : '') + JSON.stringify(syntheticRow(key, i));
      if (batch.length > 65536) {
        hash.update(batch);
        batch = '';
      }
    }
    hash.update(`${batch}]`);
  });
  hash.update('}}');
  const checksum = hash.digest('hex');
  function* text(): Generator<string> {
    yield `{\n  "metadata": ${JSON.stringify({ ...metadata, checksum }, null, 2).replace(/\n/g, '\n  ')},\n  "data": {`;
    for (const [k, key] of KEYS.entries()) {
      yield `${k ? ',' : ''}\n    ${JSON.stringify(key)}: [`;
      if (counts[key] === 0) {
        yield ']';
        continue;
      }
      for (let i = 0; i < counts[key]; i++) yield `${i ? ',' : ''}\n      ${JSON.stringify(syntheticRow(key, i), null, 2).replace(/\n/g, '\n      ')}\0`;
      yield '\n    ]';
    }
    yield '\n  }\n}';
  }
  /** The file's bytes; `rowEnds` gets the offset where each row ends. */
  function* chunks(rowEnds?: number[]): Generator<Buffer> {
    let pending = '';
    let offset = 0;
    for (let piece of text()) {
      if (piece.endsWith('\0')) {
        piece = piece.slice(0, -1);
        offset += Buffer.byteLength(piece);
        rowEnds?.push(offset);
      } else offset += Buffer.byteLength(piece);
      pending += piece;
      if (pending.length >= 64 * 1024) {
        yield Buffer.from(pending, 'utf8');
        pending = '';
      }
    }
    yield Buffer.from(pending, 'utf8');
  }
  return { checksum, chunks };
}

describe('app format 1.0 reader: streaming', () => {
  it('the synthetic generator writes exactly what the app writes', () => {
    const counts = Object.fromEntries(KEYS.map((k, i) => [k, i % 4 === 0 ? 0 : i]));
    const file = syntheticFile(counts);
    const rows = Object.fromEntries(KEYS.map((k) => [k, Array.from({ length: counts[k] }, (_, i) => syntheticRow(k, i))]));
    const doc = appBackupDocument(rows, { createdAt: CREATED_AT, includeAuditLogs: true, includeSessions: true });
    expect(Buffer.concat([...file.chunks()]).toString('utf8')).toBe(appBackupText(doc));
    expect(file.checksum).toBe(doc.metadata.checksum);
  });

  it('reads a ~20 MB file as it arrives: rows come long before the input is consumed, and the checksum holds', async () => {
    const counts = Object.fromEntries(KEYS.map((k) => [k, 0]));
    counts.users = 50;
    // Five times the 4 MB bound: a reader that held the input would lead by the whole file.
    counts.loans = 16_000;
    counts.repayments = 32_000;
    const file = syntheticFile(counts);
    let produced = 0;
    const rowEnds: number[] = [];
    const source = Readable.from(
      (function* () {
        for (const chunk of file.chunks(rowEnds)) {
          produced += chunk.length;
          yield chunk;
        }
      })(),
    );
    let firstRowAt = -1;
    let rows = 0;
    let maxLead = 0;
    let end: Extract<BackupEvent, { kind: 'end' }> | undefined;
    for await (const event of readBackup(source)) {
      if (event.kind === 'row') {
        if (firstRowAt < 0) firstRowAt = produced;
        rows++;
        // How far the input had been read past the end of this row.
        if (rows % 1000 === 0) maxLead = Math.max(maxLead, produced - rowEnds[rows - 1]);
      } else if (event.kind === 'end') end = event;
    }
    expect(produced).toBeGreaterThan(18e6);
    expect(firstRowAt).toBeGreaterThan(0);
    expect(firstRowAt).toBeLessThan(2 * 1024 * 1024);
    expect(maxLead).toBeLessThan(4 * 1024 * 1024);
    expect(rows).toBe(48_050);
    expect(end?.computedChecksum).toBe(file.checksum);
    expect(end?.checksum).toBe(file.checksum);
  });
});

describe('decimalString (Prisma Decimal as JSON)', () => {
  it.each([
    ['120000.00', '120000'],
    ['1500.50', '1500.5'],
    ['0.00', '0'],
    ['-0.50', '-0.5'],
    ['0.01', '0.01'],
    ['12', '12'],
    ['100', '100'],
    ['0.0000001', '1e-7'],
    ['0.000001', '0.000001'],
    ['123456789012345678901.5', '123456789012345678901.5'],
    ['1000000000000000000000', '1e+21'],
    ['NaN', 'NaN'],
  ])('%s → %s', (text, expected) => {
    expect(decimalString(text)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------

const APP_DDL = resolve(__dirname, '../../../../shared/reference/app-schema.postgresql.sql');

(existsSync(APP_DDL) ? describe : describe.skip)('writeAppBackupFile (test helper) on the app’s own schema', () => {
  let url: string;
  let db: Client;
  let dir: string;

  beforeAll(async () => {
    url = await freshDatabase(`kiln_test_appformat_${process.env.JEST_WORKER_ID ?? '1'}`);
    db = new Client({ connectionString: url });
    await db.connect();
    await db.query(readFileSync(APP_DDL, 'utf8'));
    await db.query(`
      INSERT INTO "CompanySetting" (id, name, email, "updatedAt") VALUES ('default', 'Millennium Potters', 'info@example.com', '2025-01-02 03:04:05.006');
      INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt", "lastLoginAt") VALUES
        ('u1', 'admin@example.com', 'hash', 'ADMIN', '2025-01-02 03:04:05.1', NULL),
        ('u2', 'zoë@example.com', 'hash', 'CREDIT_OFFICER', '2025-01-02 03:04:05', '2024-12-31 23:59:59.999');
      UPDATE "User" SET "supervisorId" = 'u1' WHERE id = 'u2';
      INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('lt1', 'Small', 120000.00, 1500.50, now());
      INSERT INTO "AuditLog" (id, action, "entityName", "entityId", "before", "after") VALUES
        ('a1', 'UPDATE', 'Loan', 'l1', NULL, '{"b": [1, 2.50, null], "a": {"z": "\\u2028é"}, "10": true}');`);
    dir = await mkdtemp(join(tmpdir(), 'kiln-app-backup-'));
  });
  afterAll(async () => {
    await db?.end();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes rows as Prisma serialises them, in a file Kiln reads with a matching checksum', async () => {
    const file = join(dir, 'backup.json');
    const doc = await writeAppBackupFile(url, file, { includeAuditLogs: true });
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(JSON.stringify(doc, null, 2));
    expect(Object.keys(doc.data)).toEqual(KEYS);
    expect(doc.metadata.recordCounts).toMatchObject({ users: 2, companySettings: 1, loanTypes: 1, auditLogs: 1, staffSessions: 0, loans: 0 });
    const loanType = doc.data.loanTypes[0];
    expect(loanType).toMatchObject({ minAmount: '120000', maxAmount: '1500.5', termUnit: 'MONTH', minTerm: 1, maxTerm: 12, isActive: true, deletedAt: null });
    expect(loanType.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const users = Object.fromEntries(doc.data.users.map((u) => [u.id, u]));
    expect(users.u1).toMatchObject({ updatedAt: '2025-01-02T03:04:05.100Z', lastLoginAt: null, loginCount: 0, role: 'ADMIN', supervisorId: null });
    expect(users.u2).toMatchObject({ email: 'zoë@example.com', lastLoginAt: '2024-12-31T23:59:59.999Z', supervisorId: 'u1' });
    // Columns in table order, as the Prisma model lists them.
    expect(Object.keys(users.u1).slice(0, 5)).toEqual(['id', 'email', 'passwordHash', 'role', 'isActive']);
    expect(doc.data.auditLogs[0].after).toEqual({ a: { z: '\u2028é' }, b: [1, 2.5, null], '10': true });

    const summary = await summarizeBackup(createReadStream(file));
    expect(summary.checksum).toBe(doc.metadata.checksum);
    expect(summary.computedChecksum).toBe(doc.metadata.checksum);
    expect(summary.header.tables).toContain('AuditLog');
    expect(summary.header.tables).not.toContain('StaffSession');
    expect(summary.recordCounts.User).toBe(2);
  });

  it('mutate makes a bad file; resign signs it again', async () => {
    const file = join(dir, 'changed.json');
    const changedDoc = await writeAppBackupFile(db, file, { mutate: (d) => (d.data.users[0].email = 'x@example.com') });
    const broken = await summarizeBackup(createReadStream(file));
    expect(broken.checksum).toBe(changedDoc.metadata.checksum);
    expect(broken.computedChecksum).not.toBe(broken.checksum);

    await writeAppBackupFile(db, file, { mutate: (d) => (d.data.users[0].email = 'x@example.com'), resign: true });
    const resigned = await summarizeBackup(createReadStream(file));
    expect(resigned.computedChecksum).toBe(resigned.checksum);

    await writeAppBackupFile(db, file, { mutate: (d) => (d.metadata.version = '2.0'), resign: true });
    await expect(summarizeBackup(createReadStream(file))).rejects.toThrow(/unsupported format version "2.0"/);
  });
});
