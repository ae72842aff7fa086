import { SignatureCheck, type BackupSigner } from '../backup/format/backup-signature';
import { BadUserInputError } from '../errors/kiln-errors';
import type { ValidatedBackup } from './backup-validator';

/** How a restore knows its file is Kiln's own: the checksum Kiln recorded when it wrote a stored backup, or the signature. */
export type Authenticity = 'RECORDED' | SignatureCheck;

const WHY: Record<Exclude<SignatureCheck, SignatureCheck.VALID>, string> = {
  [SignatureCheck.UNSIGNED]: 'The file carries no Kiln signature (an app format 1.0 backup, a file from another tool, or a Kiln backup from before signing)',
  [SignatureCheck.OTHER_KEY]: 'The file was signed by a Kiln with another BACKUP_SIGNING_KEY',
  [SignatureCheck.MISMATCH]: 'The file’s signature does not match its contents: it was changed after Kiln wrote it',
};

/**
 * A restore replaces the login accounts too, so a file must be Kiln's own unless the admin
 * says otherwise with allowUnsigned. Throws BAD_USER_INPUT (with `signature`) when it is refused.
 */
export function checkAuthenticity(
  checked: Pick<ValidatedBackup, 'headerLine' | 'checksum' | 'signature'>,
  recordedChecksum: string | null,
  signer: BackupSigner,
  allowUnsigned: boolean,
): Authenticity {
  const check = checked.headerLine === undefined ? SignatureCheck.UNSIGNED : signer.check(checked.headerLine, checked.checksum, checked.signature);
  // The validator held the data to the checksum Kiln recorded for it: that vouches for a file from
  // before signing, or signed with an earlier key. A header changed under its own key's signature does not pass.
  if (recordedChecksum && check !== SignatureCheck.MISMATCH) return check === SignatureCheck.VALID ? check : 'RECORDED';
  if (check === SignatureCheck.VALID || allowUnsigned) return check;
  throw new BadUserInputError(`${WHY[check]}. Restore it with allowUnsigned: true only if you trust where it came from.`, {
    signature: check,
    ...(check === SignatureCheck.OTHER_KEY ? { fileKeyId: checked.signature?.keyId, keyId: signer.keyId } : {}),
  });
}

/** The job message's note on a file restored without a valid signature. */
export function describeAuthenticity(authenticity: Authenticity): string | undefined {
  if (authenticity === 'RECORDED' || authenticity === SignatureCheck.VALID) return undefined;
  return `restored with allowUnsigned (signature: ${authenticity})`;
}
