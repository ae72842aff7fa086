/**
 * What one seeding run shares between its generators: the COPY tables, the PRNG streams,
 * the staff and union roster that members and loans hang off, the ids given to catalogue
 * rows and the report totals. It lives for one run only; nothing is kept at module level,
 * so two runs in one process cannot mix ids.
 */
import { CopyTable, TABLE_ORDER, type TableName } from './copy-table.writer';
import type { DocTypeDef, LoanTypeDef } from './demo-products.data';
import type { Place } from './demo-reference.data';
import { ReportMetrics } from './report-metrics.accumulator';
import { mix32, Rng } from './seeded-random.util';

/**
 * Independent PRNG streams. Each member draws from its own (STREAM_MEMBER, index), so a
 * member's rows depend only on (seed, index) and on the roster, never on earlier members.
 */
export const STREAM_STAFF = 1;
export const STREAM_MEMBER = 2;
export const STREAM_REPORTS = 3;

export interface Staff {
  id: string;
  role: 'ADMIN' | 'SUPERVISOR' | 'CREDIT_OFFICER';
  firstName: string;
  lastName: string;
  createdAt: number;
  supervisor: Staff | null;
  /** index into officers (current officers only), else -1 */
  officerIdx: number;
  supervisorIdx: number;
  deactivatedAt: number | null;
  deletedAt: number | null;
  ips: string[];
  userAgent: string;
}

export interface UnionInfo {
  id: string;
  name: string;
  createdAt: number;
  deletedAt: number | null;
  officer: Staff;
  place: Place;
}

export class SeedContext {
  readonly tables: Record<TableName, CopyTable>;
  private readonly seedLo: number;
  private readonly seedHi: number;

  /** A credit officer looks after about 300 members; a supervisor leads up to 10 officers. */
  readonly officerCount: number;
  readonly supervisorCount: number;

  readonly admins: Staff[] = [];
  readonly supervisors: Staff[] = [];
  readonly officers: Staff[] = [];
  readonly formerOfficers: Staff[] = [];
  readonly unions: UnionInfo[] = [];
  readonly dissolvedUnions: UnionInfo[] = [];
  readonly loanTypeIds = new Map<LoanTypeDef, string>();
  readonly docTypeIds = new Map<DocTypeDef, string>();
  /** Loans numbered in generation order, across members (LN202405-000123). */
  loanSeq = 0;
  readonly metrics: ReportMetrics;

  constructor(
    readonly memberCount: number,
    seed: number,
    readonly passwordHash: string,
  ) {
    this.seedLo = seed >>> 0;
    this.seedHi = Math.floor(seed / 4294967296) >>> 0;
    const tables = {} as Record<TableName, CopyTable>;
    TABLE_ORDER.forEach((name, i) => {
      tables[name] = new CopyTable(name, mix32((this.seedLo ^ Math.imul(i + 1, 0x27d4eb2f) ^ mix32(this.seedHi)) >>> 0));
    });
    this.tables = tables;

    this.officerCount = Math.max(1, Math.round(memberCount / 300));
    this.supervisorCount = Math.max(1, Math.ceil(this.officerCount / 10));
    this.metrics = new ReportMetrics(this.officerCount, this.supervisorCount);
  }

  rng(stream: number, index: number): Rng {
    return new Rng(this.seedLo, this.seedHi, stream, index);
  }

  /** Everyone who has a User row, in the order their rows are written. */
  allStaff(): Staff[] {
    return [...this.admins, ...this.supervisors, ...this.officers, ...this.formerOfficers];
  }
}
