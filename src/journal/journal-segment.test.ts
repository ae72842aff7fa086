import { BackupSigner } from '../backup/format/backup-signature';
import { assertUnbroken, SegmentReader, SegmentWriter, type JournalEntry, type ReadSegment } from './journal-segment';
import { bigIntToLsn, fullTransactionId, lsnToBigInt } from './lsn';

const signer = new BackupSigner('journal-test-signing-key-0123456789');

function segment(sequence: number, startLsn: string, previousChecksum: string | null, endLsn: string): { text: string; entries: JournalEntry[] } {
  const writer = new SegmentWriter({ chain: 'c1', sequence, startLsn, previousChecksum }, signer);
  const entries: JournalEntry[] = [
    { relation: { table: 'Loan', columns: [{ name: 'id', type: 25, mod: -1, key: true }, { name: 'amount', type: 1700, mod: 655366, key: false }] } },
    { begin: { xid: '4294967301', lsn: '0/16B3748', at: '2026-12-03T16:40:00.123456Z' } },
    { insert: 'Loan', new: { id: 'l1', amount: '1200.00' } },
    { update: 'Loan', key: null, new: { id: 'l1' } },
    { delete: 'Loan', key: { id: 'l1' } },
    { truncate: ['Loan'], cascade: false, restartIdentity: false },
    { commit: { end: endLsn } },
  ];
  let text = writer.start();
  for (const entry of entries) text += writer.line(entry);
  return { text: text + writer.end(endLsn).line, entries };
}

function read(text: string, name = 's', withSigner = signer): { read: ReadSegment; entries: JournalEntry[] } {
  const entries: JournalEntry[] = [];
  const reader = new SegmentReader(name, withSigner, (e) => entries.push(e));
  for (const line of text.split('\n').filter((l) => l !== '')) reader.push(line);
  return { read: reader.finish(), entries };
}

describe('journal segments', () => {
  it('read back exactly what was written, with counts, times and a valid signature', () => {
    const { text, entries } = segment(0, '0/16B0000', null, '0/16B3800');
    const back = read(text);
    expect(back.entries).toEqual(entries);
    expect(back.read.header).toMatchObject({ format: 'kiln-journal', formatVersion: 1, chain: 'c1', sequence: 0, startLsn: '0/16B0000', previousChecksum: null });
    expect(back.read.end).toMatchObject({ endLsn: '0/16B3800', transactions: 1, changes: 4, firstCommitAt: '2026-12-03T16:40:00.123456Z', lastCommitAt: '2026-12-03T16:40:00.123456Z' });
  });

  it.each([
    ['an edited value', (t: string) => t.replace('1200.00', '9200.00'), /checksum does not match/],
    ['a dropped change', (t: string) => t.replace(/\{"delete".*\n/, ''), /checksum does not match/],
    ['a cut end', (t: string) => t.slice(0, t.lastIndexOf('{"end"')), /no end line/],
    ['a line that is not JSON', (t: string) => t.replace('{"delete"', '{delete'), /not JSON/],
    ['a forged end that counts the edit', (t: string) => t.replace('"changes":4', '"changes":3').replace(/\{"delete".*\n/, ''), /checksum does not match/],
  ])('refuse %s as BACKUP_CORRUPT', (_what, edit, message) => {
    const { text } = segment(0, '0/16B0000', null, '0/16B3800');
    expect(() => read(edit(text))).toThrow(message);
    try {
      read(edit(text));
    } catch (err) {
      expect((err as { extensions: { code: string } }).extensions.code).toBe('BACKUP_CORRUPT');
    }
  });

  it('refuse a segment signed with another key', () => {
    const { text } = segment(0, '0/16B0000', null, '0/16B3800');
    expect(() => read(text, 's', new BackupSigner('another-key-another-key-another-key'))).toThrow(/signature is other key/);
  });

  it('chain: each continues the one before; a missing, reordered or replaced one is named', () => {
    const first = read(segment(0, '0/16B0000', null, '0/16B3800').text).read;
    const second = read(segment(1, '0/16B3800', first.end.checksum, '0/16C0000').text).read;
    const third = read(segment(2, '0/16C0000', second.end.checksum, '0/16D0000').text).read;
    expect(() => assertUnbroken([first, second, third])).not.toThrow();
    expect(() => assertUnbroken([first, third])).toThrow(/c1#2 follows #0: segments between them are missing or out of order/);
    expect(() => assertUnbroken([second, first])).toThrow(/missing or out of order/);
    const replaced = read(segment(1, '0/16B3800', 'f'.repeat(64), '0/16C0000').text).read;
    expect(() => assertUnbroken([first, replaced])).toThrow(/c1#1 does not continue #0/);
  });
});

describe('WAL positions and transaction ids', () => {
  it('convert LSNs both ways and order them as numbers', () => {
    expect(lsnToBigInt('16/B374D848')).toBe(0x16b374d848n);
    expect(bigIntToLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(lsnToBigInt('0/FF') < lsnToBigInt('1/0')).toBe(true);
    expect(() => lsnToBigInt('nope')).toThrow(/not a WAL position/);
  });

  it('give a 32-bit xid its epoch from any 64-bit xid near it, across a wraparound', () => {
    const epoch = 5n << 32n;
    expect(fullTransactionId(1000, epoch + 2000n)).toBe(epoch + 1000n);
    expect(fullTransactionId(3000, epoch + 2000n)).toBe(epoch + 3000n); // a little newer than near
    expect(fullTransactionId(0xfffffff0, epoch + 5n)).toBe(epoch - 0x10n); // before the wrap
    expect(fullTransactionId(5, epoch - 0x10n)).toBe(epoch + 5n); // after it
  });
});
