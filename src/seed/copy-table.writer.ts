/**
 * Rows on their way to PostgreSQL: one CopyTable per lending table buffers CSV lines for
 * `COPY ... FROM STDIN (FORMAT csv)`, which is many times faster than INSERTs at a million
 * rows. Each table also mints its own cuid-shaped ids, so ids are deterministic per table
 * and independent of how other tables are generated.
 */
import { mix32 } from './seeded-random.util';

export type Cell = string | number | boolean | null;

const CSV_SPECIAL = /[",\r\n\\]/;
/**
 * CSV for COPY (FORMAT csv, defaults): NULL is an unquoted empty field, an empty string is
 * `""`; fields with quotes, commas, CR/LF or backslashes are quoted (quotes doubled).
 * Backslashes are quoted only so a lone `\.` can never read as end-of-data.
 */
function csvCell(v: Cell): string {
  if (v === null) return '';
  if (typeof v === 'string') {
    if (v.length === 0) return '""';
    return CSV_SPECIAL.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
  }
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (!Number.isSafeInteger(v)) throw new Error(`seed: non-integer number cell ${v}`);
  return String(v);
}

export const TABLE_COLUMNS = {
  CompanySetting: ['id', 'name', 'email', 'phone', 'address', 'currency', 'currencySymbol', 'dateFormat', 'timeFormat', 'timezone', 'invoicePrefix', 'expensePrefix', 'logo', 'createdAt', 'updatedAt'],
  User: ['id', 'email', 'passwordHash', 'role', 'isActive', 'supervisorId', 'firstName', 'lastName', 'phone', 'address', 'profileImage', 'lastLoginAt', 'lastActivityAt', 'loginCount', 'createdAt', 'updatedAt', 'deletedAt'],
  LoanType: ['id', 'name', 'description', 'minAmount', 'maxAmount', 'termUnit', 'minTerm', 'maxTerm', 'isActive', 'createdAt', 'updatedAt', 'deletedAt'],
  DocumentType: ['id', 'code', 'name', 'description', 'isActive', 'createdAt', 'updatedAt', 'deletedAt'],
  Union: ['id', 'name', 'location', 'address', 'creditOfficerId', 'createdAt', 'updatedAt', 'deletedAt'],
  UnionAssignmentHistory: ['id', 'unionId', 'oldOfficerId', 'newOfficerId', 'changedByUserId', 'reason', 'changedAt'],
  StaffSession: ['id', 'userId', 'jwtId', 'userAgent', 'ipAddress', 'createdAt', 'expiresAt', 'revokedAt'],
  UserLoginHistory: ['id', 'userId', 'loginAt', 'ipAddress', 'userAgent', 'success', 'failureReason', 'createdAt'],
  UserNote: ['id', 'userId', 'title', 'content', 'category', 'isPrivate', 'createdByUserId', 'createdAt', 'updatedAt'],
  UnionMember: ['id', 'code', 'firstName', 'lastName', 'phone', 'email', 'address', 'dateOfBirth', 'gender', 'maritalStatus', 'profession', 'company', 'city', 'state', 'country', 'zipCode', 'note', 'profileImage', 'isVerified', 'unionId', 'currentOfficerId', 'createdAt', 'updatedAt', 'deletedAt'],
  UnionMemberReassignment: ['id', 'unionMemberId', 'oldUnionId', 'newUnionId', 'oldOfficerId', 'newOfficerId', 'changedByUserId', 'reason', 'changedAt'],
  UnionMemberDocument: ['id', 'unionMemberId', 'documentTypeId', 'fileUrl', 'issuingAuthority', 'issueDate', 'expiryDate', 'verified', 'verificationNotes', 'uploadedByUserId', 'uploadedAt', 'deletedAt'],
  Loan: ['id', 'loanNumber', 'unionMemberId', 'unionId', 'loanTypeId', 'principalAmount', 'currencyCode', 'termCount', 'termUnit', 'startDate', 'endDate', 'processingFeeAmount', 'processingFeeCollected', 'penaltyFeePerDayAmount', 'status', 'createdByUserId', 'assignedOfficerId', 'disbursedAt', 'closedAt', 'notes', 'createdAt', 'updatedAt', 'deletedAt'],
  RepaymentScheduleItem: ['id', 'loanId', 'sequence', 'dueDate', 'principalDue', 'interestDue', 'feeDue', 'totalDue', 'paidAmount', 'status', 'closedAt', 'createdAt', 'updatedAt', 'deletedAt'],
  Repayment: ['id', 'loanId', 'receivedByUserId', 'amount', 'currencyCode', 'paidAt', 'method', 'reference', 'notes', 'createdAt', 'updatedAt', 'deletedAt'],
  RepaymentAllocation: ['id', 'repaymentId', 'scheduleItemId', 'amount', 'createdAt'],
  LoanDocument: ['id', 'loanId', 'documentTypeId', 'fileUrl', 'issuingAuthority', 'issueDate', 'expiryDate', 'verified', 'verificationNotes', 'uploadedByUserId', 'uploadedAt', 'deletedAt'],
  AuditLog: ['id', 'actorUserId', 'action', 'entityName', 'entityId', 'before', 'after', 'metadata', 'ipAddress', 'userAgent', 'createdAt'],
  ReportSession: ['id', 'supervisorId', 'reportType', 'title', 'periodStart', 'periodEnd', 'totalOfficers', 'totalUnions', 'totalMembers', 'totalLoans', 'activeLoans', 'completedLoans', 'defaultedLoans', 'totalDisbursed', 'totalRepaid', 'totalOutstanding', 'collectionRate', 'reportData', 'officerMetrics', 'generatedAt'],
} as const satisfies Record<string, readonly string[]>;

export type TableName = keyof typeof TABLE_COLUMNS;
/** Copy order of every batch: parents before children. */
export const TABLE_ORDER = Object.keys(TABLE_COLUMNS) as TableName[];

const B36_5 = 36 ** 5;
const B36_6 = 36 ** 6;

/** One lending table of a seeding run: its COPY statement, buffered lines and id counter. */
export class CopyTable {
  lines: string[] = [];
  total = 0;
  private nextIndex = 0;
  readonly copySql: string;

  constructor(
    readonly name: TableName,
    private readonly salt: number,
  ) {
    const cols = TABLE_COLUMNS[name].map((c) => `"${c}"`).join(', ');
    this.copySql = `COPY "${name}" (${cols}) FROM STDIN WITH (FORMAT csv)`;
  }

  /**
   * A cuid-shaped id ('c' + 24 base36): 8 chars of the row's own timestamp (so ids sort
   * roughly by creation like real cuids), 6 of the per-table row index (unique per table)
   * and 10 hashed from (seed, table, index).
   */
  id(ms: number): string {
    const idx = this.nextIndex++;
    const h1 = mix32((idx ^ this.salt) >>> 0);
    const h2 = mix32((h1 ^ Math.imul(idx, 0x9e3779b1) ^ this.salt) >>> 0);
    return (
      'c' +
      ms.toString(36).padStart(8, '0') +
      (idx % B36_6).toString(36).padStart(6, '0') +
      (h1 % B36_5).toString(36).padStart(5, '0') +
      (h2 % B36_5).toString(36).padStart(5, '0')
    );
  }

  add(cells: Cell[]): void {
    // join() yields a flat string (a `+=` chain keeps a rope of ~25 nodes alive per row).
    for (let i = 0; i < cells.length; i++) cells[i] = csvCell(cells[i]);
    this.lines.push(cells.join(','));
  }
}

/** Lines joined into ~256 KiB buffers: few, large writes keep the COPY stream cheap. */
export function* csvChunks(lines: string[]): Generator<Buffer> {
  let parts: string[] = [];
  let size = 0;
  for (const line of lines) {
    parts.push(line);
    size += line.length + 1;
    if (size >= 256 * 1024) {
      yield Buffer.from(parts.join('\n') + '\n', 'utf8');
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield Buffer.from(parts.join('\n') + '\n', 'utf8');
}
