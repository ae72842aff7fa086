/**
 * Enums of the Millennium Potters lending schema.
 *
 * These mirror the Prisma enums one-to-one: same type name in PostgreSQL
 * (`"Role"`, `"LoanStatus"`, ...) and the same labels in the same order.
 * Never reorder or rename a member here without a matching migration.
 */

/** Staff role of a `User`. */
export enum Role {
  ADMIN = 'ADMIN',
  SUPERVISOR = 'SUPERVISOR',
  CREDIT_OFFICER = 'CREDIT_OFFICER',
}

/** Lifecycle state of a `Loan`. */
export enum LoanStatus {
  DRAFT = 'DRAFT',
  PENDING_APPROVAL = 'PENDING_APPROVAL',
  APPROVED = 'APPROVED',
  ACTIVE = 'ACTIVE',
  COMPLETED = 'COMPLETED',
  DEFAULTED = 'DEFAULTED',
  WRITTEN_OFF = 'WRITTEN_OFF',
  CANCELED = 'CANCELED',
}

/** Unit in which a loan term is counted. */
export enum TermUnit {
  DAY = 'DAY',
  WEEK = 'WEEK',
  MONTH = 'MONTH',
}

/** Payment state of one `RepaymentScheduleItem` instalment. */
export enum ScheduleStatus {
  PENDING = 'PENDING',
  PARTIAL = 'PARTIAL',
  PAID = 'PAID',
  OVERDUE = 'OVERDUE',
}

/** Channel through which a `Repayment` was received. */
export enum RepaymentMethod {
  CASH = 'CASH',
  TRANSFER = 'TRANSFER',
  POS = 'POS',
  MOBILE = 'MOBILE',
  USSD = 'USSD',
  OTHER = 'OTHER',
}

/** Period covered by a supervisor `ReportSession`. */
export enum ReportType {
  DAILY = 'DAILY',
  WEEKLY = 'WEEKLY',
  MONTHLY = 'MONTHLY',
  QUARTERLY = 'QUARTERLY',
  CUSTOM = 'CUSTOM',
}
