/**
 * How a borrower pays a disbursed loan: most pay on time, some skip or pay part of an
 * instalment, a few fall behind for good. Decided before any row is written because the
 * outcome (completed early, defaulted, written off) sets the loan's status and dates.
 */
import { AS_OF, AS_OF_DAY, DAY, HOUR, MINUTE, N, workMs } from './calendar-money.util';
import type { LoanStatus } from './demo-products.data';
import type { Rng } from './seeded-random.util';

export interface Payment {
  ms: number;
  amount: number;
}

export interface PaymentPlan {
  status: LoanStatus;
  term: number;
  dueDays: readonly number[];
  totals: readonly number[];
  contracted: number;
  endDay: number;
  disbursedAt: number;
}

export interface PaymentOutcome {
  /** The planned status, except an ACTIVE loan paid in full is COMPLETED. */
  status: LoanStatus;
  payments: Payment[];
  closedAt: number | null;
  defaultedAt: number | null;
  writtenOffAt: number | null;
}

/** Payments up to AS_OF for a disbursed loan, and when it closed or defaulted. */
export function simulatePayments(r: Rng, plan: PaymentPlan): PaymentOutcome {
  const { term, dueDays, totals, contracted, endDay, disbursedAt } = plan;
  let status = plan.status;
  const payments: Payment[] = [];
  let closedAt: number | null = null;
  let defaultedAt: number | null = null;
  let writtenOffAt: number | null = null;
  const profile = r.float();
  const skipP = profile < 0.68 ? 0.06 : profile < 0.92 ? 0.15 : 0.35;
  const partialP = profile < 0.68 ? 0.04 : profile < 0.92 ? 0.2 : 0.25;
  const late = profile < 0.68 ? [-2, 2] : profile < 0.92 ? [0, 7] : [2, 20];
  let stopK = term;
  if (status === 'DEFAULTED' || status === 'WRITTEN_OFF') stopK = Math.floor(term * (0.15 + 0.5 * r.float()));
  let arrears = 0;
  let lastPay = disbursedAt;
  for (let k = 0; k < term; k++) {
    if (dueDays[k] > AS_OF_DAY) break;
    arrears += totals[k];
    if (k >= stopK) continue;
    let pay: number;
    const x = r.float();
    if (status === 'COMPLETED' && k === term - 1) pay = arrears;
    else if (x < skipP) pay = 0;
    else if (x < skipP + partialP) pay = Math.floor((arrears * (0.3 + 0.5 * r.float())) / (100 * N)) * 100 * N;
    else pay = arrears;
    if (pay <= 0) continue;
    let ms = (dueDays[k] + r.int(late[0], late[1])) * DAY + workMs(r);
    ms = Math.max(ms, lastPay + r.int(1, 90) * MINUTE);
    if (ms > AS_OF - 3 * HOUR) continue;
    payments.push({ ms, amount: pay });
    arrears -= pay;
    lastPay = ms;
  }
  const paidSoFar = payments.reduce((s, p) => s + p.amount, 0);
  if (status === 'COMPLETED' && paidSoFar < contracted) {
    const ms = Math.min(AS_OF - 3 * HOUR, Math.max(lastPay + HOUR, (endDay + r.int(0, 4)) * DAY + workMs(r)));
    payments.push({ ms, amount: contracted - paidSoFar });
  }
  const paid = payments.reduce((s, p) => s + p.amount, 0);
  if (status === 'ACTIVE' && paid === contracted) status = 'COMPLETED';
  if (status === 'COMPLETED') closedAt = payments[payments.length - 1].ms + r.int(1, 120) * MINUTE;
  if (status === 'DEFAULTED' || status === 'WRITTEN_OFF') {
    const missed = Math.min(stopK, term - 1);
    defaultedAt = Math.min(AS_OF - HOUR, (dueDays[missed] + 30) * DAY + workMs(r));
    defaultedAt = Math.max(defaultedAt, lastPay + HOUR);
    if (status === 'WRITTEN_OFF') {
      writtenOffAt = Math.min(AS_OF - MINUTE, Math.max(defaultedAt + DAY, (Math.floor(defaultedAt / DAY) + r.int(60, 120)) * DAY + workMs(r)));
      closedAt = writtenOffAt;
    }
  }
  return { status, payments, closedAt, defaultedAt, writtenOffAt };
}
