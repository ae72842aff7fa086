/**
 * One union member and everything hanging off them: the member row, a possible move from
 * another union, their loans (see loan.generator) and KYC documents. Each member draws
 * from their own PRNG stream, so member i is the same whatever the batch size.
 */
import { AS_OF, AS_OF_DAY, DAY, ts, tsOrNull, workMs } from './calendar-money.util';
import { writeAudit } from './audit-log.generator';
import { ascii, phoneNumber, streetAddress } from './demo-contact.util';
import { docType, type DocTypeDef, type LoanStatus } from './demo-products.data';
import { CLOUDINARY, FEMALE_NAMES, LAST_NAMES, MALE_NAMES, MEMBER_NOTES, PLACE_TABLE, PROFESSIONS } from './demo-reference.data';
import { generateDocument } from './document.generator';
import { generateLoan, type Borrower } from './loan.generator';
import { M_NEW_MEMBERS } from './report-metrics.accumulator';
import { STREAM_MEMBER, type SeedContext, type UnionInfo } from './seed.context';

/** Writes member `i` (0-based) of the run, with their reassignment, loans and documents. */
export function generateMember(ctx: SeedContext, i: number): void {
  const r = ctx.rng(STREAM_MEMBER, i);
  const T = ctx.tables;
  const union = ctx.unions[Math.floor((i * ctx.unions.length) / ctx.memberCount)];
  const officer = union.officer;

  // Reassignment decided first: it bounds the member's creation date.
  let oldUnion: UnionInfo | null = null;
  if (r.chance(0.04)) {
    if (r.chance(0.35)) oldUnion = r.pick(ctx.dissolvedUnions);
    else if (ctx.unions.length > 1) {
      do oldUnion = r.pick(ctx.unions);
      while (oldUnion === union);
    }
  }
  let loDay = Math.floor(Math.max(union.createdAt, oldUnion?.createdAt ?? 0) / DAY) + 1;
  let hiDay = AS_OF_DAY - 45;
  if (oldUnion?.deletedAt) hiDay = Math.min(hiDay, Math.floor(oldUnion.deletedAt / DAY) - 3);
  if (oldUnion && loDay >= hiDay) {
    oldUnion = null;
    loDay = Math.floor(union.createdAt / DAY) + 1;
    hiDay = AS_OF_DAY - 45;
  }
  const createdDay = loDay + Math.floor((hiDay - loDay) * r.float() ** 1.25);
  const createdAt = createdDay * DAY + workMs(r);
  const memberId = T.UnionMember.id(createdAt);

  const female = r.chance(0.58);
  const firstName = r.pick(female ? FEMALE_NAMES : MALE_NAMES);
  const lastName = r.pick(LAST_NAMES);
  const place = r.chance(0.85) ? union.place : PLACE_TABLE.pick(r);
  const dobDay = Math.floor(Date.UTC(1960, 0, 1) / DAY) + r.int(0, 43 * 365);
  const code = r.chance(0.99) ? 'MPM-' + String(i + 1).padStart(6, '0') : null;
  const email = r.chance(0.35) ? `${ascii(firstName).toLowerCase()}.${ascii(lastName).toLowerCase()}${r.int(1, 999)}@${r.pick(['gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com'])}` : null;
  const profession = r.pick(PROFESSIONS);
  const company = r.chance(0.4) ? r.pick(['Self-employed', `${firstName}'s Enterprises`, `Mama ${firstName} Kitchen`, `${lastName} & Sons Ventures`, `${firstName} Stores`, `${ascii(lastName)} Global Concepts Ltd`]) : null;

  let changedAt: number | null = null;
  if (oldUnion) {
    changedAt = oldUnion.deletedAt
      ? oldUnion.deletedAt - r.int(0, 2) * DAY
      : (createdDay + r.int(7, Math.max(8, AS_OF_DAY - createdDay - 1))) * DAY + workMs(r);
  }

  // Statistics: the member is counted for the officer of the union they joined.
  ctx.metrics.record(oldUnion?.officer ?? officer, M_NEW_MEMBERS, createdAt, 1);

  // Loans, one after another: each starts after the previous one closed.
  const borrower: Borrower = { memberId, createdAt, union, oldUnion, changedAt, firstName, lastName };
  const loanCount = r.chance(0.68) ? 1 : r.chance(0.84) ? 2 : 3;
  let cursorDay = createdDay + r.int(1, 20);
  let lastEvent = createdAt;
  let lastStatus: LoanStatus = 'DRAFT';
  for (let j = 0; j < loanCount; j++) {
    const res = generateLoan(ctx, r, borrower, cursorDay, j === loanCount - 1);
    lastEvent = Math.max(lastEvent, res.lastEvent);
    lastStatus = res.status;
    if (res.nextCursorDay === null) break;
    cursorDay = res.nextCursorDay;
  }

  // A few members are soft-deleted once their last loan is closed.
  let deletedAt: number | null = null;
  if ((lastStatus === 'COMPLETED' || lastStatus === 'CANCELED') && r.chance(0.06)) {
    const d = Math.floor(lastEvent / DAY) + r.int(5, 60);
    if (d < AS_OF_DAY) deletedAt = d * DAY + workMs(r);
  }
  const updatedAt = Math.max(createdAt, changedAt ?? 0, deletedAt ?? 0, r.chance(0.25) ? Math.min(AS_OF, createdAt + r.int(1, 300) * DAY) : 0);

  // Member row is buffered now; COPY order (by table) puts it before its loans.
  T.UnionMember.add([
    memberId, code, firstName, lastName, r.chance(0.95) ? phoneNumber(r) : null, email,
    r.chance(0.9) ? streetAddress(place, r) : null,
    r.chance(0.93) ? ts(dobDay * DAY) : null,
    r.chance(0.97) ? (female ? 'Female' : 'Male') : null,
    r.chance(0.85) ? r.pick(['Married', 'Married', 'Single', 'Widowed', 'Divorced']) : null,
    profession, company, place.city, place.state, 'Nigeria', r.chance(0.6) ? place.zip : null,
    r.chance(0.12) ? r.pick(MEMBER_NOTES) : null,
    r.chance(0.4) ? `${CLOUDINARY}/v${Math.floor(createdAt / 1000)}/members/${memberId}.jpg` : null,
    r.chance(0.9), union.id, r.chance(0.97) ? officer.id : null, ts(createdAt), ts(updatedAt), tsOrNull(deletedAt),
  ]);
  const fullName = `${firstName} ${lastName}`;
  writeAudit(ctx, oldUnion?.officer ?? officer, 'MEMBER_CREATED', 'UnionMember', memberId, null, { code, firstName, lastName, unionId: oldUnion?.id ?? union.id }, { channel: r.pick(['web', 'mobile']), displayName: fullName }, createdAt + r.int(1, 30) * 1000, r);

  if (oldUnion && changedAt !== null) {
    const by = r.chance(0.7) && officer.supervisor ? officer.supervisor : r.pick(ctx.admins);
    const reason = oldUnion.deletedAt ? 'Union dissolved — members moved' : r.chance(0.8) ? r.pick(['Member relocated', 'Member request', 'Moved stall to another market', 'Relocated from Ìbàdàn to Lagos']) : null;
    T.UnionMemberReassignment.add([T.UnionMemberReassignment.id(changedAt), memberId, oldUnion.id, union.id, oldUnion.officer.id, officer.id, by.id, reason, ts(changedAt)]);
    writeAudit(ctx, by, 'MEMBER_REASSIGNED', 'UnionMember', memberId, { unionId: oldUnion.id, officerId: oldUnion.officer.id }, { unionId: union.id, officerId: officer.id }, reason === null ? null : { reason }, changedAt, r);
  }
  if (deletedAt !== null) {
    writeAudit(ctx, officer.supervisor ?? ctx.admins[0], 'MEMBER_DELETED', 'UnionMember', memberId, { code, name: fullName }, null, { soft: true }, deletedAt, r);
  }

  // KYC documents.
  const docs: DocTypeDef[] = [];
  if (r.chance(0.6)) docs.push(docType('PASSPORT_PHOTO'));
  const idDoc = r.float();
  if (idDoc < 0.5) docs.push(docType('NIN_SLIP'));
  else if (idDoc < 0.72) docs.push(docType('VOTERS_CARD'));
  else if (idDoc < 0.8) docs.push(docType('DRIVERS_LICENSE'));
  else if (idDoc < 0.84) docs.push(docType('INTL_PASSPORT'));
  if (r.chance(0.1)) docs.push(docType('UTILITY_BILL'));
  for (const dt of docs) generateDocument(ctx, T.UnionMemberDocument, memberId, 'members', dt, createdAt, officer, r, deletedAt);
}
