/**
 * What the staff accumulated over the demo period: supervisors' and admins' notes on
 * officers (with a bit of unicode and emoji) and the account audit trail. Written after
 * the unions because all of it draws from the same organisation PRNG stream, in order.
 */
import { AS_OF, DAY, EPOCH, HOUR, ts } from './calendar-money.util';
import { writeAudit } from './audit-log.generator';
import type { SeedContext } from './seed.context';
import type { Rng } from './seeded-random.util';

/** Writes UserNote rows and the USER_* and SETTINGS_UPDATED audit entries. */
export function generateStaffHistory(ctx: SeedContext, r: Rng): void {
  const T = ctx.tables;
  const admin = ctx.admins[0];

  // Notes on staff (with a bit of unicode and emoji).
  const NOTE_TEXTS = [
    ['Q1 performance review', 'Collection rate 96% — excellent work 🎉\nKeep the Thursday meetings going.', 'performance'],
    ['Customer complaint', 'Member at Bodija Market said the officer arrived late twice. Discussed; resolved.', 'customer_feedback'],
    ['Training', 'Completed KYC refresher (NIN/BVN verification).', 'general'],
    ['Field visit', 'Visited 3 unions with the supervisor; records in order ✅', 'general'],
    ['Arrears follow-up', 'Needs to follow up on 4 overdue loans in "Oshodi Market Traders Union".', 'performance'],
    ['Commendation', 'Recovered ₦250,000 of arrears this month 👏🏾', 'performance'],
    ['Leave', 'Annual leave 12–23 August; portfolio covered by a colleague.', null],
  ] as const;
  for (const s of [...ctx.officers, ...ctx.formerOfficers, ...ctx.supervisors]) {
    const n = s.role === 'SUPERVISOR' ? 1 : r.int(0, 3);
    for (let k = 0; k < n; k++) {
      const [title, content, category] = r.pick(NOTE_TEXTS);
      const end = s.deactivatedAt ?? AS_OF;
      const createdAt = s.createdAt + Math.floor(r.float() * (end - s.createdAt - DAY)) + HOUR;
      const author = s.supervisor && r.chance(0.8) ? s.supervisor : r.pick(ctx.admins);
      const updatedAt = r.chance(0.2) ? Math.min(end, createdAt + r.int(1, 10) * DAY) : createdAt;
      T.UserNote.add([T.UserNote.id(createdAt), s.id, title, content, category, r.chance(0.3), author.id, ts(createdAt), ts(updatedAt)]);
    }
  }

  // Staff audit trail.
  for (const s of ctx.allStaff()) {
    const actor = s === admin ? null : admin;
    writeAudit(ctx, actor, 'USER_CREATED', 'User', s.id, null, { email: '(redacted)', role: s.role, name: `${s.firstName} ${s.lastName}` }, { source: actor ? 'admin-console' : 'bootstrap' }, s.createdAt, r);
    if (s.deactivatedAt !== null) {
      writeAudit(ctx, s.supervisor ?? admin, 'USER_DEACTIVATED', 'User', s.id, { isActive: true }, { isActive: false }, { reason: 'Resigned — exit interview done ✔︎' }, s.deactivatedAt, r);
    }
  }
  writeAudit(ctx, admin, 'SETTINGS_UPDATED', 'CompanySetting', 'default', { currencySymbol: 'N', timezone: 'UTC' }, { currencySymbol: '₦', timezone: 'Africa/Lagos' }, { changed: ['currencySymbol', 'timezone'] }, EPOCH + 45 * DAY + 10 * HOUR, r);
}
