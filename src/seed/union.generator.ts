/**
 * Unions (market associations of about 30 members, each looked after by one credit
 * officer), a few dissolved ones whose members were moved, and each union's officer
 * assignment history: the first assignment, then hand-overs when officers left or
 * portfolios were rebalanced.
 */
import { AS_OF_DAY, DAY, EPOCH, ts, tsOrNull, workMs } from './calendar-money.util';
import { writeAudit } from './audit-log.generator';
import { streetAddress } from './demo-contact.util';
import { MARKETS, PLACE_TABLE, TRADES, UNION_SUFFIXES } from './demo-reference.data';
import type { SeedContext, Staff, UnionInfo } from './seed.context';
import type { Rng } from './seeded-random.util';

/** Fills ctx.unions and ctx.dissolvedUnions; writes Union and UnionAssignmentHistory rows. */
export function generateUnions(ctx: SeedContext, r: Rng): void {
  const T = ctx.tables;
  const { officerCount } = ctx;
  const usedNames = new Set<string>();

  // Unions (about 30 members each) plus a few dissolved ones that members moved out of.
  const unionCount = Math.max(1, Math.ceil(ctx.memberCount / 30));
  const officerSlots: Staff[] = [];
  for (let u = 0; u < unionCount; u++) officerSlots.push(ctx.officers[u % officerCount]);
  for (let i = officerSlots.length - 1; i > 0; i--) {
    const j = Math.floor(r.float() * (i + 1));
    [officerSlots[i], officerSlots[j]] = [officerSlots[j], officerSlots[i]];
  }
  const admin = ctx.admins[0];
  for (let u = 0; u < unionCount; u++) ctx.unions.push(makeUnion(ctx, usedNames, officerSlots[u], false, r));
  const dissolved = Math.max(1, Math.ceil(unionCount * 0.02));
  for (let u = 0; u < dissolved; u++) ctx.dissolvedUnions.push(makeUnion(ctx, usedNames, r.pick(ctx.officers), true, r));

  // Assignment history: initial assignment for every union, then hand-overs.
  for (const union of [...ctx.unions, ...ctx.dissolvedUnions]) {
    let initial = union.officer;
    let handOverAt: number | null = null;
    let reason: string | null = null;
    const x = r.float();
    if (!union.deletedAt && x < 0.12) {
      initial = r.pick(ctx.formerOfficers);
      handOverAt = initial.deactivatedAt! + r.int(0, 2) * DAY;
      reason = r.pick(['Officer resigned', 'Officer left the company — portfolio handed over', 'Officer transferred to head office']);
    } else if (!union.deletedAt && x < 0.18 && officerCount > 1) {
      do initial = r.pick(ctx.officers);
      while (initial === union.officer);
      handOverAt = union.createdAt + r.int(30, Math.max(31, AS_OF_DAY - Math.floor(union.createdAt / DAY) - 10)) * DAY;
      reason = r.chance(0.8) ? r.pick(['Workload rebalancing', 'Union relocated to officer’s area', 'Supervisor request — collection rate below 80%']) : null;
    }
    const changer = (s: Staff | null) => (s?.supervisor && r.chance(0.6) ? s.supervisor : r.pick(ctx.admins));
    const h = T.UnionAssignmentHistory;
    h.add([h.id(union.createdAt), union.id, null, initial.id, admin.id, 'Initial assignment', ts(union.createdAt)]);
    writeAudit(ctx, admin, 'UNION_CREATED', 'Union', union.id, null, { name: union.name, creditOfficerId: initial.id }, { location: union.place.city }, union.createdAt, r);
    if (handOverAt !== null) {
      const by = changer(union.officer);
      h.add([h.id(handOverAt), union.id, initial.id, union.officer.id, by.id, reason, ts(handOverAt)]);
      writeAudit(ctx, by, 'UNION_OFFICER_REASSIGNED', 'Union', union.id, { creditOfficerId: initial.id }, { creditOfficerId: union.officer.id }, reason === null ? null : { reason }, handOverAt, r);
    }
  }
}

/** Union names are unique per run: a clash gets a zone number, as real associations do. */
function makeUnion(ctx: SeedContext, usedNames: Set<string>, officer: Staff, dissolved: boolean, r: Rng): UnionInfo {
  const place = PLACE_TABLE.pick(r);
  let name = `${r.pick(MARKETS[place.state])} ${r.pick(TRADES)} ${r.pick(UNION_SUFFIXES)}`;
  if (usedNames.has(name)) {
    const base = name;
    for (let n = 2; usedNames.has(name); n++) name = `${base} – Zone ${n}`;
  }
  usedNames.add(name);
  const createdAt = EPOCH + r.int(30, dissolved ? 100 : 150) * DAY + workMs(r);
  const deletedAt = dissolved ? EPOCH + r.int(250, 420) * DAY + workMs(r) : null;
  const union: UnionInfo = { id: ctx.tables.Union.id(createdAt), name, createdAt, deletedAt, officer, place };
  const updatedAt = deletedAt ?? (r.chance(0.3) ? createdAt + r.int(1, 200) * DAY : createdAt);
  ctx.tables.Union.add([
    union.id, name, r.chance(0.92) ? `${place.city}, ${place.state}` : null,
    r.chance(0.85) ? `${streetAddress(place, r)}, ${place.city}` : null, officer.id, ts(createdAt), ts(updatedAt), tsOrNull(deletedAt),
  ]);
  return union;
}
