import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { decryptIfEncrypted } from '../../crypto/decrypt-if-encrypted';
import { encryptedKeyId } from '../../crypto/encryption';
import { readBackup, type BackupEvent, type BackupReadLimits } from './backup-reader';
import { SignatureCheck, type BackupSigner } from './backup-signature';

/** What a backup file is and holds, read through without a database (`kiln file inspect`). */
export interface BackupFileFacts {
  /** The file as stored: its size and sha256 (what `sha256sum` prints, the download's ETag). */
  file: { bytes: number; sha256: string };
  /** The id of the key it was encrypted with; null when it is not encrypted. */
  encryptedWithKeyId: string | null;
  compressed: boolean;
  format: 'kiln-backup' | 'app-1.0';
  formatVersion: number;
  createdAt: string | null;
  kilnVersion: string | null;
  schemaVersion: string | null;
  backupId: string | null;
  tables: Array<{ name: string; rows: number }>;
  rows: number;
  /** The data checksum the file records, and the one its rows give. */
  checksum: { recorded: string; computed: string; matches: boolean };
  /** NOT_CHECKED: signed, but no signing key was given to check it with. */
  signature: { check: SignatureCheck | 'NOT_CHECKED'; keyId: string | null };
}

export interface ReadFactsOptions {
  /** Keys an encrypted file may be decrypted with. */
  readKeys: readonly Buffer[];
  /** Checks the signature when given. */
  signer?: BackupSigner;
  limits?: BackupReadLimits;
}

/**
 * Reads a whole backup file (the gateway's own reader: layout, counts held to the rows, gzip and
 * line limits) and says what it is. Throws the reader's BackupFormatError or a DecryptionError
 * for a file that cannot be read; a checksum that does not match is reported, not thrown.
 */
export async function readBackupFileFacts(input: Readable, options: ReadFactsOptions): Promise<BackupFileFacts> {
  const stored = tap();
  const plain = tap();
  // pipeline, not pipe: an error on either side (a read error, a wrong key) reaches the reader.
  const decrypted = await decryptIfEncrypted(pipeline(input, stored.stream, () => undefined), options.readKeys);
  let header: Extract<BackupEvent, { kind: 'header' }> | undefined;
  const tables: Array<{ name: string; rows: number }> = [];
  for await (const event of readBackup(pipeline(decrypted, plain.stream, () => undefined), options.limits)) {
    if (event.kind === 'header') header = event;
    else if (event.kind === 'tableEnd') tables.push({ name: event.name, rows: event.rows });
    else if (event.kind === 'end' && header) {
      const signed = event.headerLine !== undefined && event.signature !== undefined;
      const check: SignatureCheck | 'NOT_CHECKED' = !signed
        ? SignatureCheck.UNSIGNED
        : options.signer
          ? options.signer.check(event.headerLine!, event.checksum, event.signature)
          : 'NOT_CHECKED';
      const h = header.header;
      return {
        file: { bytes: stored.bytes, sha256: stored.sha256() },
        encryptedWithKeyId: encryptedKeyId(stored.head) ?? null,
        compressed: plain.head[0] === 0x1f && plain.head[1] === 0x8b,
        format: header.format ?? 'kiln-backup',
        formatVersion: header.formatVersion,
        createdAt: h.createdAt ?? null,
        kilnVersion: h.kilnVersion ?? null,
        schemaVersion: h.schemaVersion ?? null,
        backupId: h.backupId ?? null,
        tables,
        rows: tables.reduce((sum, t) => sum + t.rows, 0),
        checksum: { recorded: event.checksum, computed: event.computedChecksum, matches: event.checksum === event.computedChecksum },
        signature: { check, keyId: event.signature?.keyId ?? null },
      };
    }
  }
  throw new Error('unreachable: the reader ends with an end event or throws');
}

/** A pass-through that counts, hashes and keeps the first bytes of what flows through it. */
function tap(): { stream: Transform; head: Buffer; bytes: number; sha256: () => string } {
  const hash = createHash('sha256');
  const state = {
    head: Buffer.alloc(0),
    bytes: 0,
    sha256: () => hash.digest('hex'),
    stream: new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (state.head.length < 64) state.head = Buffer.concat([state.head, chunk.subarray(0, 64 - state.head.length)]);
        state.bytes += chunk.length;
        hash.update(chunk);
        done(null, chunk);
      },
    }),
  };
  return state;
}
