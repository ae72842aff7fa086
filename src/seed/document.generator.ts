/**
 * Uploaded documents, for members (KYC) and for loans (agreements, statements): the same
 * row shape in UnionMemberDocument and LoanDocument. Issue and expiry dates follow the
 * document type, and a few files are unverified or deleted, as in a real back office.
 */
import { AS_OF, DAY, MINUTE, ts, tsOrNull } from './calendar-money.util';
import type { CopyTable } from './copy-table.writer';
import type { DocTypeDef } from './demo-products.data';
import { CLOUDINARY } from './demo-reference.data';
import type { SeedContext, Staff } from './seed.context';
import type { Rng } from './seeded-random.util';

/** A document of type `dt` for `ownerId`, uploaded soon after `after`; deleted with its owner. */
export function generateDocument(ctx: SeedContext, t: CopyTable, ownerId: string, folder: string, dt: DocTypeDef, after: number, uploader: Staff, r: Rng, ownerDeletedAt: number | null): void {
  const uploadedAt = Math.min(AS_OF, after + r.int(5, 3 * 24 * 60) * MINUTE);
  const id = t.id(uploadedAt);
  let issueDay: number | null = null;
  let expiryDay: number | null = null;
  if (dt.code === 'UTILITY_BILL' || dt.code === 'BANK_STATEMENT') issueDay = Math.floor(uploadedAt / DAY) - r.int(3, 60);
  else if (dt.authority && dt.code !== 'LOAN_AGREEMENT') issueDay = Math.floor(uploadedAt / DAY) - r.int(30, 2500);
  else if (dt.code === 'LOAN_AGREEMENT') issueDay = Math.floor(uploadedAt / DAY);
  if (issueDay !== null && dt.validYears !== null) expiryDay = issueDay + dt.validYears * 365;
  const verified = r.chance(0.75);
  const notes = verified
    ? r.chance(0.2) ? r.pick(['Verified against NIMC portal', "Name mismatch: 'Adewale' vs 'Adéwálé' — accepted", 'Original sighted at union meeting ✔']) : null
    : r.chance(0.4) ? r.pick(['Blurry scan, re-upload requested', 'Expired — ask for renewal', 'Scanned from C:\\Scans\\kyc, original pending']) : null;
  const ext = dt.code === 'PASSPORT_PHOTO' ? 'jpg' : r.chance(0.6) ? 'pdf' : 'jpg';
  const fileUrl = `${CLOUDINARY}/v${Math.floor(uploadedAt / 1000)}/${folder}/${ownerId}/${dt.code.toLowerCase()}-${id.slice(-6)}.${ext}`;
  const deletedAt = ownerDeletedAt ?? (r.chance(0.03) ? Math.min(AS_OF, uploadedAt + r.int(1, 90) * DAY) : null);
  t.add([
    id, ownerId, ctx.docTypeIds.get(dt)!, fileUrl, dt.authority ? r.pick(dt.authority) : null,
    issueDay === null ? null : ts(issueDay * DAY), expiryDay === null ? null : ts(expiryDay * DAY),
    verified, notes, uploader.id, ts(uploadedAt), tsOrNull(deletedAt),
  ]);
}
