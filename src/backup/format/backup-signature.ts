import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The footer's `"signature":{…}` object. */
export interface BackupSignature {
  algorithm: 'hmac-sha256';
  /** Names the key without revealing it, so a file signed elsewhere is told apart from an edited one. */
  keyId: string;
  value: string;
}

/**
 * What a file's signature says about it:
 * - VALID: made by a Kiln holding this key, and unchanged since;
 * - UNSIGNED: no signature (a foreign file, an app format 1.0 backup, or a Kiln file from before signing);
 * - OTHER_KEY: signed, by a Kiln with another key;
 * - MISMATCH: signed with this key, but the header or data were changed after.
 */
export enum SignatureCheck {
  VALID = 'VALID',
  UNSIGNED = 'UNSIGNED',
  OTHER_KEY = 'OTHER_KEY',
  MISMATCH = 'MISMATCH',
}

const ALGORITHM = 'hmac-sha256';

/**
 * Signs backups with a key shared by a deployment's instances (BACKUP_SIGNING_KEY). The MAC covers
 * the header line exactly as written (tables, createdAt, options) and the data checksum, which
 * covers every table name and row; the reader holds recordCounts to the rows, so that is all of it.
 */
export class BackupSigner {
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(key: string) {
    this.key = Buffer.from(key, 'utf8');
    this.keyId = createHash('sha256').update('kiln-backup-signing-key\0').update(this.key).digest('hex').slice(0, 16);
  }

  sign(headerLine: string, checksum: string): BackupSignature {
    return { algorithm: ALGORITHM, keyId: this.keyId, value: this.mac(headerLine, checksum) };
  }

  check(headerLine: string, checksum: string, signature: BackupSignature | undefined): SignatureCheck {
    if (!signature) return SignatureCheck.UNSIGNED;
    if (signature.keyId !== this.keyId) return SignatureCheck.OTHER_KEY;
    const expected = Buffer.from(this.mac(headerLine, checksum), 'hex');
    const actual = Buffer.from(signature.value, 'hex');
    return actual.length === expected.length && timingSafeEqual(actual, expected) ? SignatureCheck.VALID : SignatureCheck.MISMATCH;
  }

  private mac(headerLine: string, checksum: string): string {
    // Length-prefixed, so no split of the same bytes between the two parts gives the same MAC.
    return createHmac('sha256', this.key)
      .update(`kiln-backup-signature/1\n${Buffer.byteLength(headerLine)}\n`)
      .update(headerLine)
      .update(`\n${checksum}`)
      .digest('hex');
  }
}

/** The footer line that carries a signature; the writer writes it and the reader matches it. */
export function signatureLine(signature: BackupSignature): string {
  return `"signature":${JSON.stringify(signature)}}`;
}

export const SIGNATURE_LINE = /^"signature":\{"algorithm":"hmac-sha256","keyId":"([0-9a-f]{16})","value":"([0-9a-f]{64})"\}\}$/;
