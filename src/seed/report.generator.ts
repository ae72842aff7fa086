/**
 * ReportSession rows: each supervisor's monthly, quarterly, custom, weekly and daily
 * reports over the demo period. Their figures come from the totals the other generators
 * recorded (report-metrics.accumulator), so a report agrees with the rows it describes.
 * Generated last, once every member has been written.
 */
import { AS_OF, AS_OF_DAY, DAY, EPOCH_DAY, HOUR, MONTH_NAMES, SPAN_DAYS, dayString, displayNaira, isSunday, money, monthIndex, monthStartDay, ts } from './calendar-money.util';
import {
  METRICS, M_COMPLETED, M_CONTRACTED, M_DEFAULTED, M_DISBURSED, M_DISBURSED_COUNT, M_DUE, M_NEW_LOANS, M_NEW_MEMBERS, M_REPAID, M_WRITTEN_OFF,
} from './report-metrics.accumulator';
import { STREAM_REPORTS, type SeedContext, type Staff } from './seed.context';

/** Writes every supervisor's ReportSession rows up to AS_OF. */
export function generateReports(ctx: SeedContext): void {
  const r = ctx.rng(STREAM_REPORTS, 0);
  const { metrics } = ctx;
  const T = ctx.tables;
  const months = metrics.months;
  for (const sup of ctx.supervisors) {
    const s = sup.supervisorIdx;
    const officers = ctx.officers.filter((o) => o.supervisorIdx === s);
    const officerSet = new Set(officers);
    const unionCount = ctx.unions.filter((u) => officerSet.has(u.officer)).length;
    const unionsPerOfficer = new Map<Staff, number>();
    for (const u of ctx.unions) unionsPerOfficer.set(u.officer, (unionsPerOfficer.get(u.officer) ?? 0) + 1);

    // Prefix sums over days for the supervisor's team.
    const prefix = new Float64Array((SPAN_DAYS + 1) * METRICS);
    for (let day = 0; day < SPAN_DAYS; day++) {
      for (let m = 0; m < METRICS; m++) {
        prefix[(day + 1) * METRICS + m] = prefix[day * METRICS + m] + metrics.supervisorDay(s, day, m);
      }
    }
    const sum = (fromDay: number, toDay: number, m: number) => prefix[(toDay - EPOCH_DAY + 1) * METRICS + m] - prefix[(fromDay - EPOCH_DAY) * METRICS + m];

    const periods: { type: string; title: string | null; label: string; from: number; to: number; monthFrom: number; monthTo: number }[] = [];
    for (let mi = monthIndex(sup.createdAt); mi < months; mi++) {
      const from = monthStartDay(mi);
      const to = monthStartDay(mi + 1) - 1;
      const label = `${MONTH_NAMES[mi % 12]} ${2024 + Math.floor(mi / 12)}`;
      periods.push({ type: 'MONTHLY', title: `Monthly report — ${label}`, label, from, to, monthFrom: mi, monthTo: mi });
      if (mi % 3 === 2) {
        const q = `Q${Math.floor((mi % 12) / 3) + 1} ${2024 + Math.floor(mi / 12)}`;
        periods.push({ type: 'QUARTERLY', title: `${q} performance review`, label: q, from: monthStartDay(mi - 2), to, monthFrom: mi - 2, monthTo: mi });
      }
    }
    periods.push({ type: 'CUSTOM', title: 'H1 2024 — board pack', label: 'H1 2024', from: monthStartDay(0), to: monthStartDay(6) - 1, monthFrom: 0, monthTo: 5 });
    periods.push({ type: 'CUSTOM', title: 'Full year 2024', label: '2024', from: monthStartDay(0), to: monthStartDay(12) - 1, monthFrom: 0, monthTo: 11 });
    // Last four complete Monday–Sunday weeks and the last five working days.
    let sunday = AS_OF_DAY - 1;
    while (!isSunday(sunday)) sunday--;
    for (let w = 3; w >= 0; w--) {
      const to = sunday - 7 * w;
      const from = to - 6;
      const label = `${dayString(from)} – ${dayString(to)}`;
      periods.push({ type: 'WEEKLY', title: `Weekly collections ${label}`, label, from, to, monthFrom: -1, monthTo: -1 });
    }
    for (let dd = 5; dd >= 1; dd--) {
      const day = AS_OF_DAY - dd;
      if (isSunday(day)) continue;
      const dmy = dayString(day).split('-').reverse().join('/');
      periods.push({ type: 'DAILY', title: r.chance(0.3) ? null : `Daily collections ${dmy}`, label: dmy, from: day, to: day, monthFrom: -1, monthTo: -1 });
    }

    for (const p of periods) {
      const generatedAt = (p.to + 1) * DAY + (p.type === 'DAILY' ? r.int(17, 22) * HOUR : r.int(6, 14) * HOUR) + r.int(0, 3599) * 1000;
      if (generatedAt > AS_OF || p.from < EPOCH_DAY) continue;
      const cum = (m: number) => sum(EPOCH_DAY, p.to, m);
      const flow = (m: number) => sum(p.from, p.to, m);
      const disbursedCount = cum(M_DISBURSED_COUNT);
      const completed = cum(M_COMPLETED);
      const defaulted = cum(M_DEFAULTED);
      const active = Math.max(0, disbursedCount - completed - defaulted);
      const outstanding = Math.max(0, cum(M_CONTRACTED) - cum(M_REPAID) - cum(M_WRITTEN_OFF));
      const repaid = flow(M_REPAID);
      const due = flow(M_DUE);
      const rateBp = due > 0 ? Math.min(99_999, Math.round((repaid * 10_000) / due)) : 0;
      const id = T.ReportSession.id(generatedAt);
      const reportData = {
        period: { label: p.label, start: dayString(p.from), end: dayString(p.to) },
        currency: 'NGN',
        currencySymbol: '₦',
        summary: {
          newMembers: flow(M_NEW_MEMBERS),
          newLoans: flow(M_NEW_LOANS),
          loansDisbursed: flow(M_DISBURSED_COUNT),
          amountDue: money(due),
          collected: money(repaid),
          collectedDisplay: displayNaira(repaid),
        },
        highlights: rateBp >= 9_500 ? ['Collections on target 🎯'] : rateBp >= 8_000 ? ['Collections slightly below target — follow up on arrears'] : ['Collections below 80% ⚠️ — escalate to officers'],
        generatedBy: r.chance(0.8) ? 'scheduler' : 'manual',
      };
      let officerMetrics: unknown = null;
      if (p.monthFrom >= 0) {
        officerMetrics = officers.map((o) => {
          const om = (m: number) => {
            let v = 0;
            for (let mi = p.monthFrom; mi <= p.monthTo; mi++) v += metrics.officerMonth(o.officerIdx, mi, m);
            return v;
          };
          const oDue = om(M_DUE);
          const oRepaid = om(M_REPAID);
          return {
            officerId: o.id,
            name: `${o.firstName} ${o.lastName}`,
            unions: unionsPerOfficer.get(o) ?? 0,
            newMembers: om(M_NEW_MEMBERS),
            loansDisbursed: om(M_DISBURSED_COUNT),
            disbursed: money(om(M_DISBURSED)),
            due: money(oDue),
            repaid: money(oRepaid),
            collectionRate: oDue > 0 ? Math.round((oRepaid * 10_000) / oDue) / 100 : null,
          };
        });
      }
      T.ReportSession.add([
        id, sup.id, p.type, p.title, ts(p.from * DAY), ts((p.to + 1) * DAY - 1),
        officers.length, unionCount, cum(M_NEW_MEMBERS), cum(M_NEW_LOANS), active, completed, defaulted,
        money(flow(M_DISBURSED)), money(repaid), money(outstanding), money(rateBp),
        JSON.stringify(reportData), officerMetrics === null ? null : JSON.stringify(officerMetrics), ts(generatedAt),
      ]);
    }
  }
}
