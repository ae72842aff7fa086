/**
 * A member's loan with its repayment schedule: product, status and dates are chosen so
 * that everything fits before AS_OF, amounts follow the product's pricing in kobo, and
 * the borrower's payments (payment.simulator) decide how the loan ends. Writes the Loan,
 * its schedule, repayments (repayment.generator), loan documents and audit entries.
 */
import { AS_OF, AS_OF_DAY, DAY, HOUR, MINUTE, N, addMonths, displayNaira, isSunday, money, pad2, ts, tsOrNull, workMs } from './calendar-money.util';
import { writeAudit } from './audit-log.generator';
import { LAST_LOAN_STATUS, LEGACY_LOAN, LOAN_TYPE_TABLE, PREV_LOAN_STATUS, docType, type LoanStatus } from './demo-products.data';
import { generateDocument } from './document.generator';
import { simulatePayments, type Payment } from './payment.simulator';
import { generateRepayments } from './repayment.generator';
import { M_COMPLETED, M_CONTRACTED, M_DEFAULTED, M_DISBURSED, M_DISBURSED_COUNT, M_DUE, M_NEW_LOANS, M_WRITTEN_OFF } from './report-metrics.accumulator';
import type { SeedContext, UnionInfo } from './seed.context';
import type { Rng } from './seeded-random.util';

/** The member a loan is for, as generateMember has decided them so far. */
export interface Borrower {
  memberId: string;
  createdAt: number;
  union: UnionInfo;
  /** The union the member moved from, and when; loans before the move belong to it. */
  oldUnion: UnionInfo | null;
  changedAt: number | null;
  firstName: string;
  lastName: string;
}

export interface LoanOutcome {
  status: LoanStatus;
  /** The earliest day the member's next loan may be created; null when there is no room for one. */
  nextCursorDay: number | null;
  /** The loan's last event (update or payment): it bounds when the member may be deleted. */
  lastEvent: number;
}

/** Writes one loan created on or after `cursorDay`; `isLastIn` marks the member's last loan. */
export function generateLoan(ctx: SeedContext, r: Rng, borrower: Borrower, cursorDay: number, isLastIn: boolean): LoanOutcome {
  const { memberId, createdAt: memberCreatedAt, union, oldUnion, changedAt, firstName, lastName } = borrower;
  const T = ctx.tables;
  const type = LOAN_TYPE_TABLE.pick(r);
  const term = r.pick(type.terms);
  const periodDays = type.unit === 'DAY' ? 1 : type.unit === 'WEEK' ? 7 : 30;
  const durDays = type.unit === 'DAY' ? Math.ceil((term * 7) / 6) : type.unit === 'WEEK' ? term * 7 : term * 31;

  // Status, constrained by what fits before AS_OF.
  let isLast = isLastIn;
  let status: LoanStatus = 'DRAFT';
  if (!isLast) {
    status = PREV_LOAN_STATUS.pick(r);
    const need = status === 'COMPLETED' ? 10 + durDays + 20 + 45 : 45;
    if (cursorDay + need > AS_OF_DAY) isLast = true;
  }
  if (isLast) {
    status = LAST_LOAN_STATUS.pick(r);
    if (status === 'WRITTEN_OFF' && cursorDay + 10 + durDays + 100 > AS_OF_DAY) status = 'DEFAULTED';
    if (status === 'DEFAULTED' && cursorDay + 10 + Math.ceil(durDays * 0.7) + 40 > AS_OF_DAY) status = 'ACTIVE';
    if (status === 'COMPLETED' && cursorDay + 10 + durDays + 5 > AS_OF_DAY) status = 'ACTIVE';
    if (status === 'ACTIVE' && cursorDay + 3 > AS_OF_DAY) status = 'PENDING_APPROVAL';
  }
  const disbursed = status === 'ACTIVE' || status === 'COMPLETED' || status === 'DEFAULTED' || status === 'WRITTEN_OFF';

  // Dates.
  let createdDay: number;
  let startDay: number;
  if (disbursed) {
    let lo = cursorDay + 1;
    let hi: number;
    if (status === 'ACTIVE') {
      lo = Math.max(lo, AS_OF_DAY - durDays + periodDays);
      hi = AS_OF_DAY - 1;
    } else if (status === 'COMPLETED') hi = AS_OF_DAY - durDays - 5;
    else if (status === 'DEFAULTED') hi = AS_OF_DAY - Math.ceil(durDays * 0.7) - 40;
    else hi = AS_OF_DAY - durDays - 100;
    if (!isLast) hi = Math.min(hi, lo + 10);
    if (hi < lo) hi = lo;
    startDay = Math.min(AS_OF_DAY - 1, lo + Math.floor(r.float() * (hi - lo + 1)));
    createdDay = Math.max(cursorDay, startDay - r.int(1, 10));
  } else if (status === 'CANCELED') {
    createdDay = Math.min(AS_OF_DAY - 12, cursorDay + (isLast ? Math.floor(r.float() * Math.max(0, AS_OF_DAY - 12 - cursorDay)) : 0));
    createdDay = Math.max(createdDay, cursorDay);
    startDay = createdDay + r.int(3, 14);
  } else {
    createdDay = Math.max(cursorDay, AS_OF_DAY - r.int(1, 25));
    startDay = createdDay + r.int(3, 14);
  }
  const createdAt = Math.max(memberCreatedAt + 30 * MINUTE, createdDay * DAY + workMs(r));
  const loanId = T.Loan.id(createdAt);
  ctx.loanSeq++;
  const created = new Date(createdAt);
  const loanNumber = `LN${created.getUTCFullYear()}${pad2(created.getUTCMonth() + 1)}-${String(ctx.loanSeq).padStart(6, '0')}`;
  const loanUnion = oldUnion && changedAt !== null && createdAt < changedAt ? oldUnion : union;
  const officer = loanUnion.officer;

  // Amounts (kobo).
  const ratio = (type.max / type.min) ** (r.float() ** 1.6);
  const step = type.min * ratio >= 100_000 * N ? 5_000 * N : 1_000 * N;
  const principal = Math.min(type.max, Math.max(type.min, Math.round((type.min * ratio) / step) * step));
  const basePrincipal = Math.floor(principal / term / N) * N;
  const interest = Math.round((principal * type.rateBp) / 10_000);
  const processingFee = Math.round((principal * type.processingBp) / 10_000 / N) * N;
  const penaltyPerDay = Math.min(1_000 * N, Math.max(50 * N, Math.round(principal / 1000 / N) * N));

  // Schedule.
  const dueDays: number[] = [];
  const totals: number[] = [];
  const principals: number[] = [];
  let d = startDay;
  let contracted = 0;
  for (let k = 0; k < term; k++) {
    if (type.unit === 'DAY') {
      d++;
      if (isSunday(d)) d++;
    } else if (type.unit === 'WEEK') d = startDay + 7 * (k + 1);
    else d = addMonths(startDay, k + 1);
    dueDays.push(d);
    const p = k === term - 1 ? principal - basePrincipal * (term - 1) : basePrincipal;
    principals.push(p);
    totals.push(p + interest + type.feeKobo);
    contracted += p + interest + type.feeKobo;
  }
  const endDay = dueDays[term - 1];
  const disbursedAt = disbursed ? startDay * DAY + 7 * HOUR + r.int(0, 4 * 60) * MINUTE : null;

  // Repayments.
  let payments: Payment[] = [];
  let closedAt: number | null = null;
  let defaultedAt: number | null = null;
  let writtenOffAt: number | null = null;
  if (disbursed) {
    ({ status, payments, closedAt, defaultedAt, writtenOffAt } = simulatePayments(r, { status, term, dueDays, totals, contracted, endDay, disbursedAt: disbursedAt! }));
  } else if (status === 'CANCELED') {
    closedAt = (createdDay + r.int(1, 10)) * DAY + workMs(r);
  }
  const loanDeletedAt = status === 'CANCELED' && r.chance(0.3) ? Math.min(AS_OF, closedAt! + r.int(1, 30) * DAY) : null;

  const itemIds: string[] = [];
  const itemCreated = createdAt + r.int(1, 5) * 1000;
  for (let k = 0; k < term; k++) itemIds.push(T.RepaymentScheduleItem.id(itemCreated));
  const { paidPerItem, itemClosedAt, lastRepaymentCreated } = generateRepayments(ctx, r, { loanId, officer, borrowerName: `${firstName} ${lastName}`, payments, itemIds, totals });

  // The loan row and its schedule (COPY sends each batch parents first, so order here is free).
  const updatedAt = Math.max(createdAt, disbursedAt ?? 0, lastRepaymentCreated, closedAt ?? 0, defaultedAt ?? 0, loanDeletedAt ?? 0);
  const creator = r.chance(0.85) || !officer.supervisor ? officer : officer.supervisor;
  T.Loan.add([
    loanId, loanNumber, memberId, loanUnion.id, type === LEGACY_LOAN ? null : ctx.loanTypeIds.get(type)!, money(principal), 'NGN', term, type.unit,
    ts(startDay * DAY), status === 'DRAFT' ? null : ts(endDay * DAY), money(processingFee), disbursed, money(penaltyPerDay), status,
    creator.id, status === 'DRAFT' && r.chance(0.3) ? null : officer.id, tsOrNull(disbursedAt), tsOrNull(closedAt),
    r.chance(0.1) ? r.pick(['Guarantor: union chairman', 'Top-up requested after harvest 🌽', 'Business: "Iya Basira" food canteen', 'Collateral: 2 sewing machines, Singer & Butterfly', 'Repayment day moved to Friday\n(market day)']) : null,
    ts(createdAt), ts(updatedAt), tsOrNull(loanDeletedAt),
  ]);
  for (let k = 0; k < term; k++) {
    const paidK = paidPerItem[k];
    let itemStatus: string;
    if (!disbursed) itemStatus = 'PENDING';
    else if (paidK === totals[k]) itemStatus = 'PAID';
    else if (paidK > 0) itemStatus = 'PARTIAL';
    else itemStatus = dueDays[k] < AS_OF_DAY ? 'OVERDUE' : 'PENDING';
    const itemUpdated = Math.max(itemCreated, itemClosedAt[k] ?? 0, itemStatus === 'OVERDUE' ? (dueDays[k] + 1) * DAY : 0);
    T.RepaymentScheduleItem.add([
      itemIds[k], loanId, k + 1, ts(dueDays[k] * DAY), money(principals[k]), money(interest), money(type.feeKobo), money(totals[k]),
      money(paidK), itemStatus, tsOrNull(itemClosedAt[k]), ts(itemCreated), ts(itemUpdated),
      status === 'CANCELED' ? ts(closedAt!) : null,
    ]);
    if (disbursed) ctx.metrics.record(officer, M_DUE, dueDays[k] * DAY, totals[k]);
  }

  // Loan documents.
  if (status !== 'DRAFT') {
    const docTime = disbursedAt ?? createdAt;
    if (r.chance(0.85)) generateDocument(ctx, T.LoanDocument, loanId, 'loans', docType('LOAN_AGREEMENT'), createdAt, officer, r, null);
    if (r.chance(0.2)) generateDocument(ctx, T.LoanDocument, loanId, 'loans', docType('GUARANTOR_FORM'), createdAt, officer, r, null);
    if (type.name === 'SME Expansion Loan') {
      if (r.chance(0.6)) generateDocument(ctx, T.LoanDocument, loanId, 'loans', docType('BANK_STATEMENT'), createdAt, officer, r, null);
      if (r.chance(0.4)) generateDocument(ctx, T.LoanDocument, loanId, 'loans', docType('CAC_CERTIFICATE'), docTime, officer, r, null);
    }
  }

  // Audit trail and statistics.
  const supervisor = officer.supervisor ?? ctx.admins[0];
  const amountInfo = { loanNumber, principalAmount: money(principal), currency: 'NGN', display: displayNaira(principal) };
  writeAudit(ctx, creator, 'LOAN_CREATED', 'Loan', loanId, null, { ...amountInfo, status: 'DRAFT', unionMemberId: memberId }, { borrower: `${firstName} ${lastName}`, product: type === LEGACY_LOAN ? null : type.name }, createdAt + 2000, r);
  const transition: [string, number | null, string] | null =
    status === 'PENDING_APPROVAL' ? ['DRAFT', createdAt + r.int(5, 120) * MINUTE, 'LOAN_SUBMITTED']
    : status === 'APPROVED' ? ['PENDING_APPROVAL', createdAt + r.int(1, 48) * HOUR, 'LOAN_APPROVED']
    : status === 'ACTIVE' ? ['APPROVED', disbursedAt, 'LOAN_DISBURSED']
    : status === 'COMPLETED' ? ['ACTIVE', closedAt, 'LOAN_COMPLETED']
    : status === 'DEFAULTED' ? ['ACTIVE', defaultedAt, 'LOAN_DEFAULTED']
    : status === 'WRITTEN_OFF' ? ['DEFAULTED', writtenOffAt, 'LOAN_WRITTEN_OFF']
    : status === 'CANCELED' ? ['PENDING_APPROVAL', closedAt, 'LOAN_CANCELED']
    : null;
  if (transition && transition[1] !== null && transition[1] <= AS_OF) {
    const actor = status === 'ACTIVE' || status === 'COMPLETED' ? officer : supervisor;
    writeAudit(ctx, actor, transition[2], 'Loan', loanId, { status: transition[0] }, { status }, { loanNumber, note: status === 'WRITTEN_OFF' ? 'Board approval ref. BRD/2025/０１７' : null }, transition[1], r);
  }

  ctx.metrics.record(officer, M_NEW_LOANS, createdAt, 1);
  if (disbursed) {
    ctx.metrics.record(officer, M_DISBURSED_COUNT, disbursedAt!, 1);
    ctx.metrics.record(officer, M_DISBURSED, disbursedAt!, principal);
    ctx.metrics.record(officer, M_CONTRACTED, disbursedAt!, contracted);
  }
  if (status === 'COMPLETED') ctx.metrics.record(officer, M_COMPLETED, closedAt!, 1);
  if (defaultedAt !== null) ctx.metrics.record(officer, M_DEFAULTED, defaultedAt, 1);
  if (writtenOffAt !== null) ctx.metrics.record(officer, M_WRITTEN_OFF, writtenOffAt, contracted - payments.reduce((s, p) => s + p.amount, 0));

  const lastEvent = Math.max(updatedAt, ...payments.map((p) => p.ms));
  let next: number | null = null;
  if (!isLast) {
    const base = Math.floor((closedAt ?? createdAt) / DAY);
    next = base + r.int(3, 30);
    if (next > AS_OF_DAY - 10) next = null;
  }
  return { status, nextCursorDay: next, lastEvent };
}
