/**
 * The staff: three admins, supervisors, current and former credit officers, with their
 * login history and sessions. Logins are generated before the User rows because they
 * decide each user's loginCount and lastLoginAt.
 */
import { AS_OF, DAY, EPOCH, HOUR, MINUTE, ts, tsOrNull, workMs, workMsFixed } from './calendar-money.util';
import { ascii, ipAddress, phoneNumber, streetAddress } from './demo-contact.util';
import { ALL_PLACES, CLOUDINARY, FEMALE_NAMES, LAST_NAMES, MALE_NAMES, USER_AGENTS } from './demo-reference.data';
import type { SeedContext, Staff } from './seed.context';
import type { Rng } from './seeded-random.util';

/** Fills ctx's staff roster and writes User, UserLoginHistory and StaffSession rows. */
export function generateStaff(ctx: SeedContext, r: Rng): void {
  const T = ctx.tables;
  const { officerCount, supervisorCount } = ctx;
  const formerCount = Math.max(1, Math.round(officerCount / 10));
  const usedEmails = new Set<string>();

  const makeStaff = (role: Staff['role'], createdAt: number, supervisor: Staff | null): Staff => {
    const female = r.chance(0.5);
    const s: Staff = {
      id: T.User.id(createdAt),
      role,
      firstName: r.pick(female ? FEMALE_NAMES : MALE_NAMES),
      lastName: r.pick(LAST_NAMES),
      createdAt,
      supervisor,
      officerIdx: -1,
      supervisorIdx: supervisor ? supervisor.supervisorIdx : -1,
      deactivatedAt: null,
      deletedAt: null,
      ips: [ipAddress(r), ipAddress(r), ipAddress(r)],
      userAgent: r.pick(USER_AGENTS),
    };
    return s;
  };

  for (let i = 0; i < 3; i++) ctx.admins.push(makeStaff('ADMIN', EPOCH + i * DAY + workMsFixed(i), null));
  for (let i = 0; i < supervisorCount; i++) {
    const s = makeStaff('SUPERVISOR', EPOCH + r.int(1, 10) * DAY + workMs(r), null);
    s.supervisorIdx = i;
    ctx.supervisors.push(s);
  }
  for (let i = 0; i < officerCount; i++) {
    const sup = ctx.supervisors[Math.floor((i * supervisorCount) / officerCount)];
    const s = makeStaff('CREDIT_OFFICER', EPOCH + r.int(11, 25) * DAY + workMs(r), sup);
    s.officerIdx = i;
    ctx.officers.push(s);
  }
  for (let i = 0; i < formerCount; i++) {
    const s = makeStaff('CREDIT_OFFICER', EPOCH + r.int(11, 20) * DAY + workMs(r), r.pick(ctx.supervisors));
    s.deactivatedAt = EPOCH + r.int(200, 420) * DAY + workMs(r);
    if (r.chance(0.5)) s.deletedAt = s.deactivatedAt + r.int(1, 30) * DAY;
    ctx.formerOfficers.push(s);
  }
  const allStaff = ctx.allStaff();

  // Logins and sessions first: they decide loginCount / lastLoginAt on the User row.
  const loginStats = new Map<Staff, { count: number; last: number | null }>();
  for (const s of allStaff) loginStats.set(s, generateLogins(ctx, s, r));

  for (const s of allStaff) {
    const stats = loginStats.get(s)!;
    const place = r.pick(ALL_PLACES.slice(0, 11)); // staff live near head office: Lagos, Oyo, Ogun
    const updatedAt = Math.max(s.createdAt, stats.last ?? 0, s.deactivatedAt ?? 0, s.deletedAt ?? 0);
    T.User.add([
      s.id,
      uniqueEmail(usedEmails, s.firstName, s.lastName, 'millenniumpotters.com.ng', r),
      ctx.passwordHash,
      s.role,
      s.deactivatedAt === null,
      s.supervisor?.id ?? null,
      s.firstName,
      s.lastName,
      r.chance(0.9) ? phoneNumber(r) : null,
      r.chance(0.7) ? `${streetAddress(place, r)}, ${place.city}, ${place.state}` : null,
      r.chance(0.5) ? `${CLOUDINARY}/v${Math.floor(s.createdAt / 1000)}/staff/${s.id}.jpg` : null,
      tsOrNull(stats.last),
      stats.last === null ? null : ts(Math.min(AS_OF, stats.last + r.int(5, 240) * MINUTE)),
      stats.count,
      ts(s.createdAt),
      ts(updatedAt),
      tsOrNull(s.deletedAt),
    ]);
  }
}

/** firstname.lastname@domain, with a digit (then a counter) added when the name is taken. */
function uniqueEmail(used: Set<string>, first: string, last: string, domain: string, r: Rng): string {
  const base = `${ascii(first)}.${ascii(last)}`.toLowerCase();
  let e = `${base}@${domain}`;
  for (let n = 2; used.has(e); n++) e = `${base}${n === 2 ? r.int(2, 9) : n}@${domain}`;
  used.add(e);
  return e;
}

/** Sign-ins (some failed) over the account's working life, each success opening a 12-hour session. */
function generateLogins(ctx: SeedContext, s: Staff, r: Rng): { count: number; last: number | null } {
  const T = ctx.tables;
  const end = s.deactivatedAt ?? AS_OF;
  const n = s.role === 'ADMIN' ? r.int(60, 120) : s.role === 'SUPERVISOR' ? r.int(40, 80) : r.int(20, 60);
  const times: number[] = [];
  const spanDays = Math.floor((end - s.createdAt) / DAY);
  for (let i = 0; i < n; i++) {
    const day = Math.floor(s.createdAt / DAY) + 1 + Math.floor(r.float() * Math.max(1, spanDays - 1));
    times.push(Math.min(end - MINUTE, day * DAY + workMs(r)));
  }
  times.sort((a, b) => a - b);
  let count = 0;
  let last: number | null = null;
  for (const t of times) {
    const ok = r.chance(0.94);
    const ip = r.pick(s.ips);
    const ua = r.chance(0.9) ? s.userAgent : r.pick(USER_AGENTS);
    T.UserLoginHistory.add([T.UserLoginHistory.id(t), s.id, ts(t), ip, ua, ok, ok ? null : r.chance(0.85) ? 'INVALID_PASSWORD' : 'TOO_MANY_ATTEMPTS', ts(t)]);
    if (!ok) continue;
    count++;
    last = t;
    const expiresAt = t + 12 * HOUR;
    let revokedAt: number | null = r.chance(0.35) ? t + r.int(10, 600) * MINUTE : null;
    if (s.deactivatedAt !== null && expiresAt > s.deactivatedAt) revokedAt = s.deactivatedAt;
    const jwtId = `${r.hex(8)}-${r.hex(4)}-4${r.hex(3)}-${r.pick(['8', '9', 'a', 'b'])}${r.hex(3)}-${r.hex(12)}`;
    T.StaffSession.add([T.StaffSession.id(t), s.id, jwtId, ua, ip, ts(t), ts(expiresAt), tsOrNull(revokedAt)]);
  }
  if (s.deactivatedAt !== null) {
    // A couple of refused attempts after the account was disabled.
    for (let k = r.int(0, 2); k > 0; k--) {
      const t = s.deactivatedAt + r.int(1, 20) * DAY + workMs(r);
      if (t > AS_OF) break;
      T.UserLoginHistory.add([T.UserLoginHistory.id(t), s.id, ts(t), r.pick(s.ips), s.userAgent, false, 'ACCOUNT_DISABLED', ts(t)]);
    }
  }
  return { count, last };
}
