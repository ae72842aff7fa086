/**
 * Running totals for the supervisor reports. Generators record each event (a new member,
 * a disbursement, a repayment, ...) as they write it, so the ReportSession rows can quote
 * figures that agree with the seeded rows without querying them back. Totals are kept per
 * (officer, month) for the per-officer tables and per (supervisor, day) for any period.
 */
import { AS_OF, DAY, EPOCH_DAY, SPAN_DAYS, monthIndex } from './calendar-money.util';

export const M_NEW_MEMBERS = 0;
export const M_NEW_LOANS = 1;
export const M_DISBURSED_COUNT = 2;
export const M_DISBURSED = 3;
export const M_REPAID = 4;
export const M_DUE = 5;
export const M_COMPLETED = 6;
export const M_DEFAULTED = 7;
export const M_CONTRACTED = 8;
export const M_WRITTEN_OFF = 9;
export const METRICS = 10;

/** Where a staff member's events are counted: officerIdx is -1 for anyone but a current officer. */
export interface MetricOwner {
  officerIdx: number;
  supervisorIdx: number;
}

export class ReportMetrics {
  /** Months from January 2024 to AS_OF, inclusive. */
  readonly months = monthIndex(AS_OF) + 1;
  /** [officerIdx][month][metric] */
  private readonly officerMonthly: Float64Array;
  /** [supervisorIdx][day][metric] */
  private readonly supervisorDaily: Float64Array;

  constructor(officerCount: number, supervisorCount: number) {
    this.officerMonthly = new Float64Array(officerCount * this.months * METRICS);
    this.supervisorDaily = new Float64Array(supervisorCount * SPAN_DAYS * METRICS);
  }

  /** Events after AS_OF (instalments not yet due) and former officers' events are not reported. */
  record(officer: MetricOwner, metric: number, ms: number, value: number): void {
    if (ms > AS_OF || officer.officerIdx < 0) return;
    const month = monthIndex(ms);
    this.officerMonthly[(officer.officerIdx * this.months + month) * METRICS + metric] += value;
    const day = Math.floor(ms / DAY) - EPOCH_DAY;
    this.supervisorDaily[(officer.supervisorIdx * SPAN_DAYS + day) * METRICS + metric] += value;
  }

  officerMonth(officerIdx: number, month: number, metric: number): number {
    return this.officerMonthly[(officerIdx * this.months + month) * METRICS + metric];
  }

  /** `day` counts from the epoch (0 = 2024-01-01). */
  supervisorDay(supervisorIdx: number, day: number, metric: number): number {
    return this.supervisorDaily[(supervisorIdx * SPAN_DAYS + day) * METRICS + metric];
  }
}
