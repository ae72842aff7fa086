import { Readable } from 'node:stream';
import { readBackup, type BackupEvent } from './backup-reader';
import { BackupSigner, SignatureCheck } from './backup-signature';
import { BackupWriter, type BackupHeader } from './backup-writer';

const KEY = 'a-signing-key-that-is-long-enough-0123456789';
const signer = new BackupSigner(KEY);

const header: BackupHeader = {
  kilnVersion: '0.1.0',
  schemaVersion: '20240101',
  createdAt: '2026-01-02T03:04:05.000Z',
  tables: ['User', 'Loan'],
  options: {},
};

const USERS = ['{"id":"u1","role":"ADMIN"}'];

async function write(withSigner?: BackupSigner, users: string[] = USERS): Promise<string> {
  const writer = new BackupWriter(header, withSigner);
  const chunks: Buffer[] = [];
  writer.output.on('data', (c: Buffer) => chunks.push(c));
  await writer.beginTable('User');
  for (const user of users) await writer.writeRow(user);
  await writer.endTable();
  await writer.beginTable('Loan');
  await writer.writeRow('{"id":"l1","amount":"100.50"}');
  await writer.endTable();
  await writer.finish();
  return Buffer.concat(chunks).toString('utf8');
}

async function end(text: string): Promise<Extract<BackupEvent, { kind: 'end' }>> {
  for await (const event of readBackup(Readable.from([Buffer.from(text)]))) if (event.kind === 'end') return event;
  throw new Error('no end event');
}

async function checkOf(text: string, by: BackupSigner = signer): Promise<SignatureCheck> {
  const e = await end(text);
  return by.check(e.headerLine!, e.checksum, e.signature);
}

it('verifies what it signed, and the reader reads the signature line', async () => {
  const text = await write(signer);
  expect(text.trimEnd().split('\n').at(-1)).toMatch(/^"signature":\{"algorithm":"hmac-sha256","keyId":"[0-9a-f]{16}","value":"[0-9a-f]{64}"\}\}$/);
  expect(await checkOf(text)).toBe(SignatureCheck.VALID);
});

it('tells an unsigned file (the layout before signing) from one signed with another key', async () => {
  expect(await checkOf(await write())).toBe(SignatureCheck.UNSIGNED);
  expect(await checkOf(await write(new BackupSigner(`${KEY}-other`)))).toBe(SignatureCheck.OTHER_KEY);
});

it('finds a changed header or row even when the checksum was recomputed to fit', async () => {
  const text = await write(signer);
  // The header: a table renamed, or the date moved; the signature line kept.
  expect(await checkOf(text.replace('2026-01-02T03:04:05.000Z', '2026-01-03T03:04:05.000Z'))).toBe(SignatureCheck.MISMATCH);
  // A row edited and the file made consistent again: a forger without the key re-signs nothing.
  const forged = await write(undefined, [...USERS, '{"id":"evil","role":"ADMIN"}']);
  const signatureLine = text.trimEnd().split('\n').at(-1)!;
  const withOldSignature = forged.replace(/\}\}\n$/, `},\n${signatureLine}\n`);
  expect(await checkOf(withOldSignature)).toBe(SignatureCheck.MISMATCH);
});

it('refuses a malformed signature line as a layout error', async () => {
  const text = await write(signer);
  await expect(end(text.replace(/"value":"([0-9a-f]{64})"\}\}\n$/, '"value":"xyz"}}\n'))).rejects.toThrow(/expected "signature"/);
  await expect(end(`${text}\n`)).rejects.toThrow(/trailing garbage/);
});
