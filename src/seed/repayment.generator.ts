/**
 * Repayment rows and their allocations. Each repayment is allocated FIFO over the loan's
 * schedule (oldest unpaid instalment first), so the allocations of a repayment sum to its
 * amount and an item's allocations sum to its paidAmount, as the lending app keeps them.
 */
import { DAY, MINUTE, dayString, displayNaira, money, ts } from './calendar-money.util';
import { writeAudit } from './audit-log.generator';
import { METHODS, REPAYMENT_NOTES } from './demo-products.data';
import type { Payment } from './payment.simulator';
import { M_REPAID } from './report-metrics.accumulator';
import type { SeedContext, Staff } from './seed.context';
import type { Rng } from './seeded-random.util';

export interface RepaidLoan {
  loanId: string;
  officer: Staff;
  borrowerName: string;
  payments: readonly Payment[];
  /** Schedule item ids and totals due, by instalment. */
  itemIds: readonly string[];
  totals: readonly number[];
}

export interface ScheduleProgress {
  paidPerItem: number[];
  itemClosedAt: (number | null)[];
  /** When the last repayment was recorded (0 if none): it bounds the loan's updatedAt. */
  lastRepaymentCreated: number;
}

/**
 * Writes Repayment and RepaymentAllocation rows for the loan's payments. They are buffered
 * before the Loan row itself is; COPY sends tables parents first, so FKs still hold.
 */
export function generateRepayments(ctx: SeedContext, r: Rng, loan: RepaidLoan): ScheduleProgress {
  const T = ctx.tables;
  const { loanId, officer, itemIds, totals } = loan;
  const paidPerItem = new Array<number>(totals.length).fill(0);
  const itemClosedAt = new Array<number | null>(totals.length).fill(null);
  let item = 0;
  let lastRepaymentCreated = 0;
  for (const p of loan.payments) {
    const recorded = p.ms + r.int(1, 45) * MINUTE;
    const receiver = r.chance(0.9) || !officer.supervisor ? officer : officer.supervisor;
    const repaymentId = T.Repayment.id(recorded);
    const method = METHODS.pick(r);
    T.Repayment.add([
      repaymentId, loanId, receiver.id, money(p.amount), 'NGN', ts(p.ms), method, paymentReference(method, p.ms, r),
      r.chance(0.06) ? r.pick(REPAYMENT_NOTES) : null, ts(recorded), ts(recorded), null,
    ]);
    let rem = p.amount;
    while (rem > 0) {
      while (paidPerItem[item] === totals[item]) item++;
      const a = Math.min(rem, totals[item] - paidPerItem[item]);
      paidPerItem[item] += a;
      rem -= a;
      T.RepaymentAllocation.add([T.RepaymentAllocation.id(recorded), repaymentId, itemIds[item], money(a), ts(recorded)]);
      if (paidPerItem[item] === totals[item]) itemClosedAt[item] = recorded;
    }
    lastRepaymentCreated = recorded;
    ctx.metrics.record(officer, M_REPAID, p.ms, p.amount);
    if (r.chance(0.04)) {
      writeAudit(ctx, receiver, 'REPAYMENT_RECORDED', 'Repayment', repaymentId, null, { loanId, amount: money(p.amount), method }, { display: displayNaira(p.amount), payer: loan.borrowerName }, recorded, r);
    }
  }
  return { paidPerItem, itemClosedAt, lastRepaymentCreated };
}

/** The reference a payment channel prints on its receipt (cash often has none). */
function paymentReference(method: string, ms: number, r: Rng): string | null {
  const day = dayString(Math.floor(ms / DAY)).replace(/-/g, '');
  switch (method) {
    case 'TRANSFER':
      return `FT${day.slice(2)}${r.digits(10)}`;
    case 'POS':
      return `POS/${r.digits(6)}/${r.pick(['Moniepoint', 'Opay', 'Palmpay'])}`;
    case 'MOBILE':
      return `${r.pick(['OPAY', 'PALMPAY', 'KUDA'])}-${r.digits(12)}`;
    case 'USSD':
      return `*${r.pick(['737', '894', '919', '966'])}*${r.digits(8)}#`;
    case 'CASH':
      return r.chance(0.5) ? `RCPT-${day}-${r.digits(4)}` : null;
    default:
      return null;
  }
}

