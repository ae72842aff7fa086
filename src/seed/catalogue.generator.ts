/**
 * The lender's own records: the company settings row and the loan products and document
 * types that loans and documents point at. Retired products and types are seeded too
 * (inactive, soft-deleted), because old loans and documents still reference them.
 */
import { DAY, EPOCH, HOUR, money, ts, tsOrNull, workMs } from './calendar-money.util';
import { DOC_TYPES, LOAN_TYPES } from './demo-products.data';
import { CLOUDINARY } from './demo-reference.data';
import type { SeedContext } from './seed.context';
import type { Rng } from './seeded-random.util';

/** Writes CompanySetting, LoanType and DocumentType rows and records their ids in ctx. */
export function generateCatalogue(ctx: SeedContext, r: Rng): void {
  const T = ctx.tables;

  // CompanySetting: a single row with the fixed id the app looks up.
  T.CompanySetting.add([
    'default', 'Millennium Potters Microfinance', 'info@millenniumpotters.com.ng', '+234 803 555 0142',
    '14 Awolowo Road, Ikoyi, Lagos', 'NGN', '₦', 'DD/MM/YYYY', '24h', 'Africa/Lagos', 'INV-', 'EXP-',
    `${CLOUDINARY}/v1704067200/branding/millennium-potters-logo.png`, ts(EPOCH), ts(EPOCH + 45 * DAY + 10 * HOUR),
  ]);

  // Products and document types, created on day 2 (retired products later, as they launched).
  LOAN_TYPES.forEach((lt, i) => {
    const createdAt = EPOCH + (i < 6 ? 2 : 30 + i * 20) * DAY + workMs(r);
    const id = T.LoanType.id(createdAt);
    ctx.loanTypeIds.set(lt, id);
    const deletedAt = lt.deleted ? Date.UTC(2025, 0, 15, 9, 30) : null;
    const updatedAt = lt.deleted ? deletedAt! : !lt.isActive ? Date.UTC(2024, 10, 1, 11) : createdAt;
    T.LoanType.add([id, lt.name, lt.description, money(lt.min), money(lt.max), lt.unit, lt.minTerm, lt.maxTerm, lt.isActive, ts(createdAt), ts(updatedAt), tsOrNull(deletedAt)]);
  });
  DOC_TYPES.forEach((dt) => {
    const createdAt = EPOCH + 2 * DAY + workMs(r);
    const id = T.DocumentType.id(createdAt);
    ctx.docTypeIds.set(dt, id);
    const deletedAt = dt.deleted ? Date.UTC(2024, 8, 3, 12) : null;
    const updatedAt = deletedAt ?? (dt.isActive ? createdAt : Date.UTC(2024, 5, 1, 10));
    T.DocumentType.add([id, dt.code, dt.name, dt.description, dt.isActive, ts(createdAt), ts(updatedAt), tsOrNull(deletedAt)]);
  });
}
