/**
 * Deterministic demo data for the Millennium Potters lending schema.
 *
 * - Every value except `User.passwordHash` is a pure function of (members, seed): ids,
 *   names, amounts and dates come from a seeded PRNG (sfc32) and a fixed calendar
 *   (2024-01-01 .. 2025-06-30), never from Math.random or the clock. `batchRows` only
 *   changes how rows are grouped into COPY statements, not the data.
 * - Rows are generated member by member and streamed with COPY ... FROM STDIN (CSV) in
 *   batches; parents are always copied before children, so FK checks pass as we go.
 * - Money is integer kobo throughout and only formatted (2 decimals) when written.
 * - Timestamps are `timestamp(3) without time zone` holding UTC, as Prisma stores them.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientBase } from 'pg';
import bcrypt from 'bcryptjs';
import { from as copyFrom } from 'pg-copy-streams';

export interface SeedOptions {
  members: number;
  seed: number;
  /** Rows buffered (over all tables) before a batch of COPYs is sent. Default 25,000. */
  batchRows?: number;
}

export interface SeedReport {
  rowsByTable: Record<string, number>;
  totalRows: number;
  seconds: number;
}

// ---------------------------------------------------------------------------
// Calendar
// ---------------------------------------------------------------------------

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Fixed epoch: the demo business starts trading on this day. */
const EPOCH = Date.UTC(2024, 0, 1);
/** "Now" of the demo data set: the last moment anything happens. */
const AS_OF = Date.UTC(2025, 5, 30, 16, 0, 0);
const EPOCH_DAY = EPOCH / DAY;
const AS_OF_DAY = Math.floor(AS_OF / DAY);
const SPAN_DAYS = AS_OF_DAY - EPOCH_DAY + 1;

/** 08:00–18:00 Africa/Lagos (UTC+1) as a UTC offset into the day, in ms. */
function workMs(r: Rng): number {
  return 7 * HOUR + Math.floor(r.float() * 10 * HOUR);
}

const dayStrings = new Map<number, string>();
function dayString(day: number): string {
  let s = dayStrings.get(day);
  if (s === undefined) {
    s = new Date(day * DAY).toISOString().slice(0, 10);
    dayStrings.set(day, s);
  }
  return s;
}
function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}
function pad3(n: number): string {
  return n < 10 ? '00' + n : n < 100 ? '0' + n : String(n);
}
/** 'YYYY-MM-DD HH:MM:SS.mmm' (UTC) for a timestamp(3) without time zone column. */
function ts(ms: number): string {
  const day = Math.floor(ms / DAY);
  let rest = ms - day * DAY;
  const h = Math.floor(rest / HOUR);
  rest -= h * HOUR;
  const m = Math.floor(rest / MINUTE);
  rest -= m * MINUTE;
  const s = Math.floor(rest / 1000);
  return dayString(day) + ' ' + pad2(h) + ':' + pad2(m) + ':' + pad2(s) + '.' + pad3(rest - s * 1000);
}
function tsOrNull(ms: number | null): string | null {
  return ms === null ? null : ts(ms);
}
function addMonths(day: number, months: number): number {
  const d = new Date(day * DAY);
  return Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, Math.min(d.getUTCDate(), 28)) / DAY);
}
function isSunday(day: number): boolean {
  return (day + 4) % 7 === 0; // 1970-01-01 was a Thursday
}
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

// ---------------------------------------------------------------------------
// Money: integer kobo, formatted only on output
// ---------------------------------------------------------------------------

function money(kobo: number): string {
  if (!Number.isSafeInteger(kobo) || kobo < 0) throw new Error(`seed: bad kobo amount ${kobo}`);
  const naira = Math.floor(kobo / 100);
  return naira + '.' + pad2(kobo - naira * 100);
}
const N = 100; // kobo per naira
function displayNaira(kobo: number): string {
  const naira = Math.floor(kobo / 100);
  return '₦' + String(naira).replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + pad2(kobo - naira * 100);
}

// ---------------------------------------------------------------------------
// PRNG: sfc32 seeded through a 32-bit integer hash (mix32, from "lowbias32")
// ---------------------------------------------------------------------------

function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x21f0aaad);
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(k0: number, k1: number, k2: number, k3: number) {
    this.a = mix32(k0 ^ 0x9e3779b9);
    this.b = mix32((k1 ^ this.a ^ 0x85ebca6b) >>> 0);
    this.c = mix32((k2 ^ this.b ^ 0xc2b2ae35) >>> 0);
    this.d = mix32((k3 ^ this.c ^ 0x27d4eb2f) >>> 0);
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const { a, b, c, d } = this;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    this.c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }
  float(): number {
    return this.u32() / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)];
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(this.float() * 10);
    return s;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(this.float() * 16).toString(16);
    return s;
  }
}

class Weighted<T> {
  private readonly cum: number[] = [];
  private readonly total: number;
  constructor(private readonly items: readonly (readonly [T, number])[]) {
    let t = 0;
    for (const [, w] of items) this.cum.push((t += w));
    this.total = t;
  }
  pick(r: Rng): T {
    const x = r.float() * this.total;
    for (let i = 0; i < this.cum.length; i++) if (x < this.cum[i]) return this.items[i][0];
    return this.items[this.items.length - 1][0];
  }
}

// ---------------------------------------------------------------------------
// CSV rows and tables
// ---------------------------------------------------------------------------

type Cell = string | number | boolean | null;

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

const TABLE_COLUMNS = {
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

type TableName = keyof typeof TABLE_COLUMNS;
/** Copy order of every batch: parents before children. */
const TABLE_ORDER = Object.keys(TABLE_COLUMNS) as TableName[];

const B36_5 = 36 ** 5;
const B36_6 = 36 ** 6;

class Table {
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

function* csvChunks(lines: string[]): Generator<Buffer> {
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

// ---------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------

const FEMALE_NAMES = ['Ngozi', 'Chiamaka', 'Adaeze', 'Funmilayo', 'Folake', 'Yetunde', 'Bisola', 'Aisha', 'Fatima', 'Hauwa', 'Zainab', 'Amina', 'Blessing', 'Patience', 'Comfort', 'Grace', 'Chioma', 'Nkechi', 'Ifeoma', 'Titilayo', 'Kemi', 'Bọ́lá', 'Ìfẹ́olúwa', 'Àdùnní', 'Omolara', 'Halima', 'Hadiza', 'Osaretin', 'Ebere', 'Mercy', 'Esther', 'Joy', 'Precious', 'Abosede', 'Morenike', 'Iyabọ̀', 'Adébímpé', 'Uchechi', 'Nneka', 'Efe', 'Modupe', 'Temitope', 'Rukayat', 'Salamatu', 'Bukola', 'Ronke', 'Oluchi', 'Ibukun', 'Kehinde', 'Taiwo'];
const MALE_NAMES = ['Adéwálé', 'Oluwaseun', 'Babatunde', 'Chinedu', 'Emeka', 'Obinna', 'Ifeanyi', 'Chukwuemeka', 'Ibrahim', 'Musa', 'Abdullahi', 'Usman', 'Yusuf', 'Aliyu', 'Tunde', 'Segun', 'Kayode', 'Femi', 'Gbenga', 'Uche', 'Nnamdi', 'Kelechi', 'Efosa', 'Osagie', 'Tamuno', 'Ebuka', 'Sani', 'Danjuma', 'Ayọ̀dèjì', 'Tèmítọ́pẹ́', 'Olúwadámiláre', 'Rasheed', 'Kunle', 'Dapo', 'Tobi', 'Chidi', 'Ikenna', 'Suleiman', 'Bashir', 'Godwin', 'Sunday', 'Monday', 'Friday', 'Lukman', 'Wale', 'Jide', 'Akin', 'Emmanuel', 'Samuel', 'Daniel'];
const LAST_NAMES = ['Adeyemi', 'Okafor', 'Okonkwo', 'Balogun', 'Ogunleye', 'Eze', 'Nwosu', 'Abubakar', 'Mohammed', 'Bello', 'Adebayo', 'Olawale', 'Ibrahim', 'Okoro', 'Obi', 'Chukwu', 'Nwachukwu', 'Ogundipe', 'Adeleke', 'Oyelaran', 'Akinwumi', 'Olatunji', 'Danladi', 'Garba', 'Suleiman', 'Ekwueme', 'Igwe', 'Uzor', 'Osagie', 'Idahosa', 'Ekpo', 'Effiong', 'Bassey', 'Etim', 'Okon', 'Àjàyí', 'Adéyẹmí', 'Ọlágúnjú', 'Fashola', 'Lawal', 'Yusuf', 'Aminu', 'Oyebanji', 'Iwu', 'Ogunbiyi', 'Akande', 'Salami', 'Oladipo', 'Onyekachi', 'Ezeani', 'Adedeji', 'Ogunsanya', 'Oyewole', 'Ọ̀ṣúntókun', "O'Neil-Okeke", 'Babangida', 'Umar', 'Agbaje', 'Oduya', 'Ilesanmi'];

interface Place {
  city: string;
  state: string;
  zip: string;
}
const PLACES: readonly (readonly [Place, number])[] = [
  [{ city: 'Ikeja', state: 'Lagos', zip: '100001' }, 10],
  [{ city: 'Surulere', state: 'Lagos', zip: '101283' }, 6],
  [{ city: 'Yaba', state: 'Lagos', zip: '101212' }, 5],
  [{ city: 'Mushin', state: 'Lagos', zip: '100253' }, 5],
  [{ city: 'Ikorodu', state: 'Lagos', zip: '104101' }, 5],
  [{ city: 'Lekki', state: 'Lagos', zip: '105102' }, 3],
  [{ city: 'Agege', state: 'Lagos', zip: '100273' }, 4],
  [{ city: 'Ojo', state: 'Lagos', zip: '102101' }, 3],
  [{ city: 'Ibadan', state: 'Oyo', zip: '200001' }, 9],
  [{ city: 'Ògbómọ̀ṣọ́', state: 'Oyo', zip: '210001' }, 2],
  [{ city: 'Abeokuta', state: 'Ogun', zip: '110001' }, 5],
  [{ city: 'Ijebu-Ode', state: 'Ogun', zip: '120001' }, 2],
  [{ city: 'Sagamu', state: 'Ogun', zip: '121001' }, 2],
  [{ city: 'Osogbo', state: 'Osun', zip: '230001' }, 2],
  [{ city: 'Ile-Ife', state: 'Osun', zip: '220001' }, 2],
  [{ city: 'Ilorin', state: 'Kwara', zip: '240001' }, 3],
  [{ city: 'Benin City', state: 'Edo', zip: '300001' }, 3],
  [{ city: 'Onitsha', state: 'Anambra', zip: '434001' }, 3],
  [{ city: 'Enugu', state: 'Enugu', zip: '400001' }, 2],
  [{ city: 'Port Harcourt', state: 'Rivers', zip: '500001' }, 3],
  [{ city: 'Abuja', state: 'FCT', zip: '900001' }, 3],
  [{ city: 'Kano', state: 'Kano', zip: '700001' }, 2],
];
const PLACE_TABLE = new Weighted(PLACES);
const ALL_PLACES = PLACES.map(([p]) => p);

const MARKETS: Record<string, readonly string[]> = {
  Lagos: ['Balogun Market', 'Computer Village', 'Oshodi Market', 'Mile 12 Market', 'Ladipo Market', 'Alaba International Market', 'Idumota Market', 'Oyingbo Market', 'Tejuosho Market', 'Ikotun Market', 'Ketu Market', 'Daleko Market'],
  Oyo: ['Bodija Market', 'Dugbe Market', 'Ọjà Ọba', 'Gbagi Market', 'Ogunpa Market', 'Oje Market'],
  Ogun: ['Kuto Market', 'Lafenwa Market', 'Itoku Market', 'Sabo Market'],
  Osun: ['Oja Oba Osogbo', 'Igbonna Market', 'Ayegbaju Market'],
  Kwara: ['Oja Oba Ilorin', 'Ipata Market', 'Mandate Market'],
  Edo: ['Oba Market', 'New Benin Market', 'Uselu Market'],
  Anambra: ['Onitsha Main Market', 'Ochanja Market', 'Relief Market'],
  Enugu: ['Ogbete Main Market', 'Abakpa Market', 'New Market'],
  Rivers: ['Mile 1 Market', 'Oil Mill Market', 'Creek Road Market'],
  FCT: ['Wuse Market', 'Garki Market', 'Nyanya Market'],
  Kano: ['Kurmi Market', 'Kantin Kwari Market', 'Sabon Gari Market'],
};
const STREETS: Record<string, readonly string[]> = {
  Lagos: ['Allen Avenue', 'Bode Thomas Street', 'Herbert Macaulay Way', 'Ikorodu Road', 'Agege Motor Road', 'Adeniran Ogunsanya Street', 'Isale Eko Street', 'Ojuelegba Road', 'Olúwọlé Close', 'Awolowo Road'],
  Oyo: ['Iwo Road', 'Oke-Ado Road', 'Ring Road', 'Mokola Road', 'Ìdí-Àràbà Street', 'Station Road'],
  Ogun: ['Oba Adesida Road', 'Ibara Road', 'Sapon Street', 'Ijebu-Ode Road'],
  Osun: ['Station Road', 'Gbongan Road', 'Ogo Oluwa Street'],
  Kwara: ['Unity Road', 'Taiwo Road', 'Ahmadu Bello Way'],
  Edo: ['Sapele Road', 'Akpakpava Street', 'Airport Road', 'Ugbowo Road'],
  Anambra: ['New Market Road', 'Zik Avenue', 'Old Market Road'],
  Enugu: ['Ogui Road', 'Agbani Road', 'Zik Avenue'],
  Rivers: ['Ikwerre Road', 'Aba Road', 'Rumuola Road'],
  FCT: ['Ahmadu Bello Way', 'Herbert Macaulay Way', 'Aminu Kano Crescent'],
  Kano: ['Murtala Mohammed Way', 'Zoo Road', 'France Road'],
};
const TRADES = ['Traders', 'Tailors', 'Hairdressers', 'Foodstuff Sellers', 'Fish Sellers', 'Fabric Dealers', 'Artisans', 'Okada Riders', 'Mechanics', 'Provision Sellers', 'Pepper Sellers', 'Shoemakers', 'Welders', 'Carpenters', 'Phone Repairers', 'Caterers'];
const UNION_SUFFIXES = ['Union', 'Association', 'Cooperative Society', "Women's Group", 'Progressive Union', 'Multipurpose Cooperative'];
const PROFESSIONS = ['Trader', 'Tailor', 'Fashion designer', 'Hairdresser', 'Barber', 'Caterer', 'Farmer', 'Mechanic', 'Vulcaniser', 'Okada rider', 'Keke driver', 'Welder', 'Carpenter', 'Electrician', 'Baker', 'Fish seller', 'Provision store owner', 'POS agent', 'Pepper seller', 'Shoemaker', 'Phone repairer', 'Teacher', 'Nurse', 'Foodstuff seller'];
const PHONE_PREFIXES = ['803', '806', '813', '816', '810', '814', '903', '906', '703', '706', '805', '807', '815', '811', '905', '802', '808', '812', '701', '708', '902', '901', '907', '809', '817', '818', '909', '908', '704', '913', '916'];
const MEMBER_NOTES = [
  'Prefers calls after 4pm, not before',
  'Known in the market as "Iya Alata"',
  'Guarantor: husband (Mr. Okoro)\nMeeting day: Thursday',
  'Very prompt with payments 👍',
  'Shop relocated to the new block, stall 14B',
  'Referred by union chairman 🙏🏾',
  'Speaks Yorùbá and Pidgin; prefers Yorùbá-speaking officer',
  'Twins in the family — "Ibeji" shop sign',
  'Former customer of LAPO; clean record',
  'Stall at Mile 12, line C, shop 3; ask for "Mama Tolu"',
];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.6312.99 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 12; TECNO KI5k) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.119 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 11; Infinix X6511) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.178 Mobile Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 13; itel A70) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36',
];
const IP_PREFIXES = ['102.89', '105.112', '197.210', '41.184', '129.205', '102.88', '154.113', '41.58'];
const CLOUDINARY = 'https://res.cloudinary.com/millennium-potters/image/upload';

type LoanStatus = 'DRAFT' | 'PENDING_APPROVAL' | 'APPROVED' | 'ACTIVE' | 'COMPLETED' | 'DEFAULTED' | 'WRITTEN_OFF' | 'CANCELED';
type TermUnit = 'DAY' | 'WEEK' | 'MONTH';

interface LoanTypeDef {
  name: string;
  description: string | null;
  unit: TermUnit;
  min: number; // kobo
  max: number; // kobo
  minTerm: number;
  maxTerm: number;
  terms: readonly number[]; // terms actually offered
  rateBp: number; // flat interest per period, basis points of principal
  feeKobo: number; // admin fee per instalment
  processingBp: number;
  weight: number;
  isActive: boolean;
  deleted: boolean;
  id?: string;
}
const LOAN_TYPES: LoanTypeDef[] = [
  { name: 'Daily Ajo Loan', description: 'Short loan repaid daily (Mon–Sat) at the market stall.', unit: 'DAY', min: 10_000 * N, max: 100_000 * N, minTerm: 1, maxTerm: 30, terms: [20, 24, 26, 30], rateBp: 20, feeKobo: 0, processingBp: 100, weight: 4, isActive: true, deleted: false },
  { name: 'Weekly Market Loan', description: 'Working capital for market traders, repaid weekly at union meetings.', unit: 'WEEK', min: 20_000 * N, max: 300_000 * N, minTerm: 1, maxTerm: 24, terms: [8, 10, 12, 12, 16], rateBp: 125, feeKobo: 0, processingBp: 200, weight: 35, isActive: true, deleted: false },
  { name: 'Monthly Business Loan', description: 'For artisans and shop owners; includes ₦200 monthly admin fee.', unit: 'MONTH', min: 50_000 * N, max: 1_000_000 * N, minTerm: 1, maxTerm: 12, terms: [3, 4, 6, 6, 9, 12], rateBp: 400, feeKobo: 200 * N, processingBp: 200, weight: 32, isActive: true, deleted: false },
  { name: 'SME Expansion Loan', description: 'Larger facility for registered small businesses (CAC certificate required).', unit: 'MONTH', min: 300_000 * N, max: 3_000_000 * N, minTerm: 1, maxTerm: 12, terms: [6, 9, 12], rateBp: 350, feeKobo: 500 * N, processingBp: 150, weight: 8, isActive: true, deleted: false },
  { name: 'Agric Input Loan', description: 'Seeds, fertiliser and equipment hire; repaid after harvest.', unit: 'MONTH', min: 50_000 * N, max: 500_000 * N, minTerm: 1, maxTerm: 6, terms: [4, 5, 6], rateBp: 300, feeKobo: 0, processingBp: 200, weight: 7, isActive: true, deleted: false },
  { name: 'School Fees Loan', description: null, unit: 'MONTH', min: 20_000 * N, max: 250_000 * N, minTerm: 1, maxTerm: 4, terms: [3, 4], rateBp: 300, feeKobo: 0, processingBp: 100, weight: 8, isActive: true, deleted: false },
  { name: 'Emergency Salary Advance', description: 'Discontinued product; existing loans run to term.', unit: 'MONTH', min: 10_000 * N, max: 100_000 * N, minTerm: 1, maxTerm: 2, terms: [1, 2], rateBp: 500, feeKobo: 0, processingBp: 100, weight: 2, isActive: false, deleted: false },
  { name: 'Festive Season Loan', description: 'December promo, withdrawn.', unit: 'WEEK', min: 10_000 * N, max: 80_000 * N, minTerm: 1, maxTerm: 8, terms: [4, 8], rateBp: 150, feeKobo: 0, processingBp: 100, weight: 0, isActive: false, deleted: true },
];
/** Legacy loans imported without a product (loanTypeId null). */
const LEGACY_LOAN: LoanTypeDef = { name: 'legacy', description: null, unit: 'MONTH', min: 20_000 * N, max: 400_000 * N, minTerm: 1, maxTerm: 6, terms: [3, 4, 6], rateBp: 500, feeKobo: 0, processingBp: 200, weight: 3, isActive: true, deleted: false };
const LOAN_TYPE_TABLE = new Weighted<LoanTypeDef>([...LOAN_TYPES.filter((t) => t.weight > 0).map((t) => [t, t.weight] as const), [LEGACY_LOAN, LEGACY_LOAN.weight]]);

interface DocTypeDef {
  code: string;
  name: string;
  description: string | null;
  isActive: boolean;
  deleted: boolean;
  authority: readonly string[] | null;
  validYears: number | null;
  id?: string;
}
const DOC_TYPES: DocTypeDef[] = [
  { code: 'NIN_SLIP', name: 'NIN slip', description: 'National Identification Number slip or card', isActive: true, deleted: false, authority: ['National Identity Management Commission (NIMC)'], validYears: null },
  { code: 'VOTERS_CARD', name: "Permanent voter's card", description: null, isActive: true, deleted: false, authority: ['Independent National Electoral Commission (INEC)'], validYears: null },
  { code: 'DRIVERS_LICENSE', name: "Driver's licence", description: null, isActive: true, deleted: false, authority: ['Federal Road Safety Corps (FRSC)'], validYears: 5 },
  { code: 'INTL_PASSPORT', name: 'International passport', description: null, isActive: true, deleted: false, authority: ['Nigeria Immigration Service (NIS)'], validYears: 10 },
  { code: 'UTILITY_BILL', name: 'Utility bill', description: 'Proof of address, not older than 3 months', isActive: true, deleted: false, authority: ['Ikeja Electric', 'Eko Electricity Distribution Company (EKEDC)', 'Ibadan Electricity Distribution Company (IBEDC)', 'Lagos Water Corporation'], validYears: null },
  { code: 'PASSPORT_PHOTO', name: 'Passport photograph', description: 'Recent, white background', isActive: true, deleted: false, authority: null, validYears: null },
  { code: 'LOAN_AGREEMENT', name: 'Signed loan agreement', description: null, isActive: true, deleted: false, authority: ['Millennium Potters'], validYears: null },
  { code: 'GUARANTOR_FORM', name: 'Guarantor form', description: 'Signed by a guarantor with valid ID', isActive: true, deleted: false, authority: null, validYears: null },
  { code: 'BANK_STATEMENT', name: 'Bank statement (6 months)', description: null, isActive: true, deleted: false, authority: ['Access Bank', 'GTBank', 'First Bank of Nigeria', 'Zenith Bank', 'UBA', 'Opay', 'Moniepoint'], validYears: null },
  { code: 'CAC_CERTIFICATE', name: 'CAC business registration', description: 'Corporate Affairs Commission certificate', isActive: true, deleted: false, authority: ['Corporate Affairs Commission (CAC)'], validYears: null },
  { code: 'TAX_CLEARANCE', name: 'Tax clearance certificate', description: 'No longer requested', isActive: false, deleted: false, authority: null, validYears: 1 },
  { code: 'OLD_STAFF_ID', name: 'Employer ID card (legacy)', description: null, isActive: false, deleted: true, authority: null, validYears: null },
];
const docType = (code: string): DocTypeDef => DOC_TYPES.find((d) => d.code === code)!;

const PREV_LOAN_STATUS = new Weighted<LoanStatus>([['COMPLETED', 93], ['CANCELED', 7]]);
const LAST_LOAN_STATUS = new Weighted<LoanStatus>([
  ['DRAFT', 4], ['PENDING_APPROVAL', 6], ['APPROVED', 5], ['ACTIVE', 45], ['COMPLETED', 22], ['DEFAULTED', 8], ['WRITTEN_OFF', 4], ['CANCELED', 6],
]);
const METHODS = new Weighted<string>([['CASH', 40], ['TRANSFER', 30], ['POS', 10], ['MOBILE', 10], ['USSD', 8], ['OTHER', 2]]);
const REPAYMENT_NOTES = ['Paid at union meeting', 'Part payment — balance next week', 'Paid by husband', 'Paid via agent 🙏', 'Customer said "will complete Friday"', 'Paid at the stall, receipt issued', 'Transfer from daughter, Lagos → Ibadan', 'Cash counted twice, ₦ notes ok'];

// Report metrics collected per (officer, month) and per (supervisor, day).
const M_NEW_MEMBERS = 0;
const M_NEW_LOANS = 1;
const M_DISBURSED_COUNT = 2;
const M_DISBURSED = 3;
const M_REPAID = 4;
const M_DUE = 5;
const M_COMPLETED = 6;
const M_DEFAULTED = 7;
const M_CONTRACTED = 8;
const M_WRITTEN_OFF = 9;
const METRICS = 10;

// ---------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------

interface Staff {
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

interface UnionInfo {
  id: string;
  name: string;
  createdAt: number;
  deletedAt: number | null;
  officer: Staff;
  place: Place;
}

interface Payment {
  ms: number;
  amount: number;
}

const STREAM_STAFF = 1;
const STREAM_MEMBER = 2;
const STREAM_REPORTS = 3;

class DemoDataGenerator {
  readonly tables: Record<TableName, Table>;
  private readonly seedLo: number;
  private readonly seedHi: number;

  readonly admins: Staff[] = [];
  readonly supervisors: Staff[] = [];
  readonly officers: Staff[] = [];
  readonly formerOfficers: Staff[] = [];
  readonly unions: UnionInfo[] = [];
  readonly dissolvedUnions: UnionInfo[] = [];
  private readonly usedEmails = new Set<string>();
  private readonly usedUnionNames = new Set<string>();
  private loanSeq = 0;

  /** [officerIdx][month][metric] */
  private readonly officerMonthly: Float64Array;
  /** [supervisorIdx][day][metric] */
  private readonly supervisorDaily: Float64Array;
  private readonly months: number;

  constructor(
    private readonly memberCount: number,
    seed: number,
    private readonly passwordHash: string,
  ) {
    this.seedLo = seed >>> 0;
    this.seedHi = Math.floor(seed / 4294967296) >>> 0;
    const tables = {} as Record<TableName, Table>;
    TABLE_ORDER.forEach((name, i) => {
      tables[name] = new Table(name, mix32((this.seedLo ^ Math.imul(i + 1, 0x27d4eb2f) ^ mix32(this.seedHi)) >>> 0));
    });
    this.tables = tables;

    const officerCount = Math.max(1, Math.round(memberCount / 300));
    const supervisorCount = Math.max(1, Math.ceil(officerCount / 10));
    this.months = monthIndex(AS_OF) + 1;
    this.officerMonthly = new Float64Array(officerCount * this.months * METRICS);
    this.supervisorDaily = new Float64Array(supervisorCount * SPAN_DAYS * METRICS);
  }

  private rng(stream: number, index: number): Rng {
    return new Rng(this.seedLo, this.seedHi, stream, index);
  }

  // ---- helpers --------------------------------------------------------------

  private email(first: string, last: string, domain: string, r: Rng): string {
    const base = `${ascii(first)}.${ascii(last)}`.toLowerCase();
    let e = `${base}@${domain}`;
    for (let n = 2; this.usedEmails.has(e); n++) e = `${base}${n === 2 ? r.int(2, 9) : n}@${domain}`;
    this.usedEmails.add(e);
    return e;
  }

  private phone(r: Rng): string {
    const local = r.pick(PHONE_PREFIXES) + r.digits(7);
    return r.chance(0.7) ? '0' + local : '+234' + local;
  }

  private ip(r: Rng): string {
    return `${r.pick(IP_PREFIXES)}.${r.int(0, 255)}.${r.int(1, 254)}`;
  }

  private street(place: Place, r: Rng): string {
    const no = r.int(1, 120);
    const suffix = r.chance(0.15) ? r.pick(['A', 'B', 'C']) : '';
    const street = r.pick(STREETS[place.state]);
    return r.chance(0.4) ? `No. ${no}${suffix}, ${street}` : `${no}${suffix} ${street}`;
  }

  private record(officer: Staff, metric: number, ms: number, value: number): void {
    if (ms > AS_OF || officer.officerIdx < 0) return;
    const month = monthIndex(ms);
    this.officerMonthly[(officer.officerIdx * this.months + month) * METRICS + metric] += value;
    const day = Math.floor(ms / DAY) - EPOCH_DAY;
    this.supervisorDaily[(officer.supervisorIdx * SPAN_DAYS + day) * METRICS + metric] += value;
  }

  private audit(actor: Staff | null, action: string, entityName: string, entityId: string, before: unknown, after: unknown, metadata: unknown, ms: number, r: Rng): void {
    const t = this.tables.AuditLog;
    t.add([
      t.id(ms),
      actor?.id ?? null,
      action,
      entityName,
      entityId,
      before === null ? null : JSON.stringify(before),
      after === null ? null : JSON.stringify(after),
      metadata === null ? null : JSON.stringify(metadata),
      actor ? r.pick(actor.ips) : null,
      actor ? actor.userAgent : null,
      ts(ms),
    ]);
  }

  // ---- staff, products, unions ------------------------------------------------

  generateStaff(): void {
    const r = this.rng(STREAM_STAFF, 0);
    const T = this.tables;
    const officerCount = Math.max(1, Math.round(this.memberCount / 300));
    const supervisorCount = Math.max(1, Math.ceil(officerCount / 10));
    const formerCount = Math.max(1, Math.round(officerCount / 10));

    // CompanySetting: a single row with the fixed id the app looks up.
    T.CompanySetting.add([
      'default', 'Millennium Potters Microfinance', 'info@millenniumpotters.com.ng', '+234 803 555 0142',
      '14 Awolowo Road, Ikoyi, Lagos', 'NGN', '₦', 'DD/MM/YYYY', '24h', 'Africa/Lagos', 'INV-', 'EXP-',
      `${CLOUDINARY}/v1704067200/branding/millennium-potters-logo.png`, ts(EPOCH), ts(EPOCH + 45 * DAY + 10 * HOUR),
    ]);

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
        ips: [this.ip(r), this.ip(r), this.ip(r)],
        userAgent: r.pick(USER_AGENTS),
      };
      return s;
    };

    for (let i = 0; i < 3; i++) this.admins.push(makeStaff('ADMIN', EPOCH + i * DAY + workMsFixed(i), null));
    for (let i = 0; i < supervisorCount; i++) {
      const s = makeStaff('SUPERVISOR', EPOCH + r.int(1, 10) * DAY + workMs(r), null);
      s.supervisorIdx = i;
      this.supervisors.push(s);
    }
    for (let i = 0; i < officerCount; i++) {
      const sup = this.supervisors[Math.floor((i * supervisorCount) / officerCount)];
      const s = makeStaff('CREDIT_OFFICER', EPOCH + r.int(11, 25) * DAY + workMs(r), sup);
      s.officerIdx = i;
      this.officers.push(s);
    }
    for (let i = 0; i < formerCount; i++) {
      const s = makeStaff('CREDIT_OFFICER', EPOCH + r.int(11, 20) * DAY + workMs(r), r.pick(this.supervisors));
      s.deactivatedAt = EPOCH + r.int(200, 420) * DAY + workMs(r);
      if (r.chance(0.5)) s.deletedAt = s.deactivatedAt + r.int(1, 30) * DAY;
      this.formerOfficers.push(s);
    }
    const allStaff = [...this.admins, ...this.supervisors, ...this.officers, ...this.formerOfficers];

    // Logins and sessions first: they decide loginCount / lastLoginAt on the User row.
    const loginStats = new Map<Staff, { count: number; last: number | null }>();
    for (const s of allStaff) loginStats.set(s, this.generateLogins(s, r));

    for (const s of allStaff) {
      const stats = loginStats.get(s)!;
      const place = r.pick(ALL_PLACES.slice(0, 11));
      const updatedAt = Math.max(s.createdAt, stats.last ?? 0, s.deactivatedAt ?? 0, s.deletedAt ?? 0);
      T.User.add([
        s.id,
        this.email(s.firstName, s.lastName, 'millenniumpotters.com.ng', r),
        this.passwordHash,
        s.role,
        s.deactivatedAt === null,
        s.supervisor?.id ?? null,
        s.firstName,
        s.lastName,
        r.chance(0.9) ? this.phone(r) : null,
        r.chance(0.7) ? `${this.street(place, r)}, ${place.city}, ${place.state}` : null,
        r.chance(0.5) ? `${CLOUDINARY}/v${Math.floor(s.createdAt / 1000)}/staff/${s.id}.jpg` : null,
        tsOrNull(stats.last),
        stats.last === null ? null : ts(Math.min(AS_OF, stats.last + r.int(5, 240) * MINUTE)),
        stats.count,
        ts(s.createdAt),
        ts(updatedAt),
        tsOrNull(s.deletedAt),
      ]);
    }

    // Products and document types.
    LOAN_TYPES.forEach((lt, i) => {
      const createdAt = EPOCH + (i < 6 ? 2 : 30 + i * 20) * DAY + workMs(r);
      lt.id = T.LoanType.id(createdAt);
      const deletedAt = lt.deleted ? Date.UTC(2025, 0, 15, 9, 30) : null;
      const updatedAt = lt.deleted ? deletedAt! : !lt.isActive ? Date.UTC(2024, 10, 1, 11) : createdAt;
      T.LoanType.add([lt.id, lt.name, lt.description, money(lt.min), money(lt.max), lt.unit, lt.minTerm, lt.maxTerm, lt.isActive, ts(createdAt), ts(updatedAt), tsOrNull(deletedAt)]);
    });
    DOC_TYPES.forEach((dt) => {
      const createdAt = EPOCH + 2 * DAY + workMs(r);
      dt.id = T.DocumentType.id(createdAt);
      const deletedAt = dt.deleted ? Date.UTC(2024, 8, 3, 12) : null;
      const updatedAt = deletedAt ?? (dt.isActive ? createdAt : Date.UTC(2024, 5, 1, 10));
      T.DocumentType.add([dt.id, dt.code, dt.name, dt.description, dt.isActive, ts(createdAt), ts(updatedAt), tsOrNull(deletedAt)]);
    });

    // Unions (about 30 members each) plus a few dissolved ones that members moved out of.
    const unionCount = Math.max(1, Math.ceil(this.memberCount / 30));
    const officerSlots: Staff[] = [];
    for (let u = 0; u < unionCount; u++) officerSlots.push(this.officers[u % officerCount]);
    for (let i = officerSlots.length - 1; i > 0; i--) {
      const j = Math.floor(r.float() * (i + 1));
      [officerSlots[i], officerSlots[j]] = [officerSlots[j], officerSlots[i]];
    }
    const admin = this.admins[0];
    for (let u = 0; u < unionCount; u++) this.unions.push(this.makeUnion(officerSlots[u], false, r));
    const dissolved = Math.max(1, Math.ceil(unionCount * 0.02));
    for (let u = 0; u < dissolved; u++) this.dissolvedUnions.push(this.makeUnion(r.pick(this.officers), true, r));

    // Assignment history: initial assignment for every union, then hand-overs.
    for (const union of [...this.unions, ...this.dissolvedUnions]) {
      let initial = union.officer;
      let handOverAt: number | null = null;
      let reason: string | null = null;
      const x = r.float();
      if (!union.deletedAt && x < 0.12) {
        initial = r.pick(this.formerOfficers);
        handOverAt = initial.deactivatedAt! + r.int(0, 2) * DAY;
        reason = r.pick(['Officer resigned', 'Officer left the company — portfolio handed over', 'Officer transferred to head office']);
      } else if (!union.deletedAt && x < 0.18 && officerCount > 1) {
        do initial = r.pick(this.officers);
        while (initial === union.officer);
        handOverAt = union.createdAt + r.int(30, Math.max(31, AS_OF_DAY - Math.floor(union.createdAt / DAY) - 10)) * DAY;
        reason = r.chance(0.8) ? r.pick(['Workload rebalancing', 'Union relocated to officer’s area', 'Supervisor request — collection rate below 80%']) : null;
      }
      const changer = (s: Staff | null) => (s?.supervisor && r.chance(0.6) ? s.supervisor : r.pick(this.admins));
      const h = T.UnionAssignmentHistory;
      h.add([h.id(union.createdAt), union.id, null, initial.id, admin.id, 'Initial assignment', ts(union.createdAt)]);
      this.audit(admin, 'UNION_CREATED', 'Union', union.id, null, { name: union.name, creditOfficerId: initial.id }, { location: union.place.city }, union.createdAt, r);
      if (handOverAt !== null) {
        const by = changer(union.officer);
        h.add([h.id(handOverAt), union.id, initial.id, union.officer.id, by.id, reason, ts(handOverAt)]);
        this.audit(by, 'UNION_OFFICER_REASSIGNED', 'Union', union.id, { creditOfficerId: initial.id }, { creditOfficerId: union.officer.id }, reason === null ? null : { reason }, handOverAt, r);
      }
    }

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
    for (const s of [...this.officers, ...this.formerOfficers, ...this.supervisors]) {
      const n = s.role === 'SUPERVISOR' ? 1 : r.int(0, 3);
      for (let k = 0; k < n; k++) {
        const [title, content, category] = r.pick(NOTE_TEXTS);
        const end = s.deactivatedAt ?? AS_OF;
        const createdAt = s.createdAt + Math.floor(r.float() * (end - s.createdAt - DAY)) + HOUR;
        const author = s.supervisor && r.chance(0.8) ? s.supervisor : r.pick(this.admins);
        const updatedAt = r.chance(0.2) ? Math.min(end, createdAt + r.int(1, 10) * DAY) : createdAt;
        T.UserNote.add([T.UserNote.id(createdAt), s.id, title, content, category, r.chance(0.3), author.id, ts(createdAt), ts(updatedAt)]);
      }
    }

    // Staff audit trail.
    for (const s of allStaff) {
      const actor = s === admin ? null : admin;
      this.audit(actor, 'USER_CREATED', 'User', s.id, null, { email: '(redacted)', role: s.role, name: `${s.firstName} ${s.lastName}` }, { source: actor ? 'admin-console' : 'bootstrap' }, s.createdAt, r);
      if (s.deactivatedAt !== null) {
        this.audit(s.supervisor ?? admin, 'USER_DEACTIVATED', 'User', s.id, { isActive: true }, { isActive: false }, { reason: 'Resigned — exit interview done ✔︎' }, s.deactivatedAt, r);
      }
    }
    this.audit(admin, 'SETTINGS_UPDATED', 'CompanySetting', 'default', { currencySymbol: 'N', timezone: 'UTC' }, { currencySymbol: '₦', timezone: 'Africa/Lagos' }, { changed: ['currencySymbol', 'timezone'] }, EPOCH + 45 * DAY + 10 * HOUR, r);
  }

  private makeUnion(officer: Staff, dissolved: boolean, r: Rng): UnionInfo {
    const place = PLACE_TABLE.pick(r);
    let name = `${r.pick(MARKETS[place.state])} ${r.pick(TRADES)} ${r.pick(UNION_SUFFIXES)}`;
    if (this.usedUnionNames.has(name)) {
      const base = name;
      for (let n = 2; this.usedUnionNames.has(name); n++) name = `${base} – Zone ${n}`;
    }
    this.usedUnionNames.add(name);
    const createdAt = EPOCH + r.int(30, dissolved ? 100 : 150) * DAY + workMs(r);
    const deletedAt = dissolved ? EPOCH + r.int(250, 420) * DAY + workMs(r) : null;
    const union: UnionInfo = { id: this.tables.Union.id(createdAt), name, createdAt, deletedAt, officer, place };
    const updatedAt = deletedAt ?? (r.chance(0.3) ? createdAt + r.int(1, 200) * DAY : createdAt);
    this.tables.Union.add([
      union.id, name, r.chance(0.92) ? `${place.city}, ${place.state}` : null,
      r.chance(0.85) ? `${this.street(place, r)}, ${place.city}` : null, officer.id, ts(createdAt), ts(updatedAt), tsOrNull(deletedAt),
    ]);
    return union;
  }

  private generateLogins(s: Staff, r: Rng): { count: number; last: number | null } {
    const T = this.tables;
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

  // ---- members and everything hanging off them ----------------------------------

  generateMember(i: number): void {
    const r = this.rng(STREAM_MEMBER, i);
    const T = this.tables;
    const union = this.unions[Math.floor((i * this.unions.length) / this.memberCount)];
    const officer = union.officer;

    // Reassignment decided first: it bounds the member's creation date.
    let oldUnion: UnionInfo | null = null;
    if (r.chance(0.04)) {
      if (r.chance(0.35)) oldUnion = r.pick(this.dissolvedUnions);
      else if (this.unions.length > 1) {
        do oldUnion = r.pick(this.unions);
        while (oldUnion === union);
      }
    }
    let loDay = Math.floor(Math.max(union.createdAt, oldUnion?.createdAt ?? 0) / DAY) + 1;
    let hiDay = AS_OF_DAY - 45;
    if (oldUnion?.deletedAt) hiDay = Math.min(hiDay, Math.floor(oldUnion.deletedAt / DAY) - 3);
    if (oldUnion && loDay >= hiDay) {
      oldUnion = null;
      loDay = Math.floor(union.createdAt / DAY) + 1;
      hiDay = AS_OF_DAY - 45;
    }
    const createdDay = loDay + Math.floor((hiDay - loDay) * r.float() ** 1.25);
    const createdAt = createdDay * DAY + workMs(r);
    const memberId = T.UnionMember.id(createdAt);

    const female = r.chance(0.58);
    const firstName = r.pick(female ? FEMALE_NAMES : MALE_NAMES);
    const lastName = r.pick(LAST_NAMES);
    const place = r.chance(0.85) ? union.place : PLACE_TABLE.pick(r);
    const dobDay = Math.floor(Date.UTC(1960, 0, 1) / DAY) + r.int(0, 43 * 365);
    const code = r.chance(0.99) ? 'MPM-' + String(i + 1).padStart(6, '0') : null;
    const email = r.chance(0.35) ? `${ascii(firstName).toLowerCase()}.${ascii(lastName).toLowerCase()}${r.int(1, 999)}@${r.pick(['gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com'])}` : null;
    const profession = r.pick(PROFESSIONS);
    const company = r.chance(0.4) ? r.pick(['Self-employed', `${firstName}'s Enterprises`, `Mama ${firstName} Kitchen`, `${lastName} & Sons Ventures`, `${firstName} Stores`, `${ascii(lastName)} Global Concepts Ltd`]) : null;

    let changedAt: number | null = null;
    if (oldUnion) {
      changedAt = oldUnion.deletedAt
        ? oldUnion.deletedAt - r.int(0, 2) * DAY
        : (createdDay + r.int(7, Math.max(8, AS_OF_DAY - createdDay - 1))) * DAY + workMs(r);
    }

    // Statistics: the member is counted for the officer of the union they joined.
    this.record(oldUnion?.officer ?? officer, M_NEW_MEMBERS, createdAt, 1);

    // Loans ------------------------------------------------------------------------
    const loanCount = r.chance(0.68) ? 1 : r.chance(0.84) ? 2 : 3;
    let cursorDay = createdDay + r.int(1, 20);
    let lastEvent = createdAt;
    let lastStatus: LoanStatus = 'DRAFT';
    for (let j = 0; j < loanCount; j++) {
      const res = this.generateLoan(r, memberId, createdAt, cursorDay, j === loanCount - 1, union, oldUnion, changedAt, firstName, lastName);
      lastEvent = Math.max(lastEvent, res.lastEvent);
      lastStatus = res.status;
      if (res.nextCursorDay === null) break;
      cursorDay = res.nextCursorDay;
    }

    // A few members are soft-deleted once their last loan is closed.
    let deletedAt: number | null = null;
    if ((lastStatus === 'COMPLETED' || lastStatus === 'CANCELED') && r.chance(0.06)) {
      const d = Math.floor(lastEvent / DAY) + r.int(5, 60);
      if (d < AS_OF_DAY) deletedAt = d * DAY + workMs(r);
    }
    const updatedAt = Math.max(createdAt, changedAt ?? 0, deletedAt ?? 0, r.chance(0.25) ? Math.min(AS_OF, createdAt + r.int(1, 300) * DAY) : 0);

    // Member row is buffered now; COPY order (by table) puts it before its loans.
    T.UnionMember.add([
      memberId, code, firstName, lastName, r.chance(0.95) ? this.phone(r) : null, email,
      r.chance(0.9) ? this.street(place, r) : null,
      r.chance(0.93) ? ts(dobDay * DAY) : null,
      r.chance(0.97) ? (female ? 'Female' : 'Male') : null,
      r.chance(0.85) ? r.pick(['Married', 'Married', 'Single', 'Widowed', 'Divorced']) : null,
      profession, company, place.city, place.state, 'Nigeria', r.chance(0.6) ? place.zip : null,
      r.chance(0.12) ? r.pick(MEMBER_NOTES) : null,
      r.chance(0.4) ? `${CLOUDINARY}/v${Math.floor(createdAt / 1000)}/members/${memberId}.jpg` : null,
      r.chance(0.9), union.id, r.chance(0.97) ? officer.id : null, ts(createdAt), ts(updatedAt), tsOrNull(deletedAt),
    ]);
    const fullName = `${firstName} ${lastName}`;
    this.audit(oldUnion?.officer ?? officer, 'MEMBER_CREATED', 'UnionMember', memberId, null, { code, firstName, lastName, unionId: oldUnion?.id ?? union.id }, { channel: r.pick(['web', 'mobile']), displayName: fullName }, createdAt + r.int(1, 30) * 1000, r);

    if (oldUnion && changedAt !== null) {
      const by = r.chance(0.7) && officer.supervisor ? officer.supervisor : r.pick(this.admins);
      const reason = oldUnion.deletedAt ? 'Union dissolved — members moved' : r.chance(0.8) ? r.pick(['Member relocated', 'Member request', 'Moved stall to another market', 'Relocated from Ìbàdàn to Lagos']) : null;
      T.UnionMemberReassignment.add([T.UnionMemberReassignment.id(changedAt), memberId, oldUnion.id, union.id, oldUnion.officer.id, officer.id, by.id, reason, ts(changedAt)]);
      this.audit(by, 'MEMBER_REASSIGNED', 'UnionMember', memberId, { unionId: oldUnion.id, officerId: oldUnion.officer.id }, { unionId: union.id, officerId: officer.id }, reason === null ? null : { reason }, changedAt, r);
    }
    if (deletedAt !== null) {
      this.audit(officer.supervisor ?? this.admins[0], 'MEMBER_DELETED', 'UnionMember', memberId, { code, name: fullName }, null, { soft: true }, deletedAt, r);
    }

    // KYC documents.
    const docs: DocTypeDef[] = [];
    if (r.chance(0.6)) docs.push(docType('PASSPORT_PHOTO'));
    const idDoc = r.float();
    if (idDoc < 0.5) docs.push(docType('NIN_SLIP'));
    else if (idDoc < 0.72) docs.push(docType('VOTERS_CARD'));
    else if (idDoc < 0.8) docs.push(docType('DRIVERS_LICENSE'));
    else if (idDoc < 0.84) docs.push(docType('INTL_PASSPORT'));
    if (r.chance(0.1)) docs.push(docType('UTILITY_BILL'));
    for (const dt of docs) this.document(T.UnionMemberDocument, memberId, 'members', dt, createdAt, officer, r, deletedAt);
  }

  private document(t: Table, ownerId: string, folder: string, dt: DocTypeDef, after: number, uploader: Staff, r: Rng, ownerDeletedAt: number | null): void {
    const uploadedAt = Math.min(AS_OF, after + r.int(5, 3 * 24 * 60) * MINUTE);
    const id = t.id(uploadedAt);
    let issueDay: number | null = null;
    let expiryDay: number | null = null;
    if (dt.code === 'UTILITY_BILL' || dt.code === 'BANK_STATEMENT') issueDay = Math.floor(uploadedAt / DAY) - r.int(3, 60);
    else if (dt.authority && dt.code !== 'LOAN_AGREEMENT') issueDay = Math.floor(uploadedAt / DAY) - r.int(30, 2500);
    else if (dt.code === 'LOAN_AGREEMENT') issueDay = Math.floor(uploadedAt / DAY);
    if (issueDay !== null && dt.validYears !== null) expiryDay = issueDay + dt.validYears * 365;
    const verified = r.chance(0.75);
    const notes = verified
      ? r.chance(0.2) ? r.pick(['Verified against NIMC portal', "Name mismatch: 'Adewale' vs 'Adéwálé' — accepted", 'Original sighted at union meeting ✔']) : null
      : r.chance(0.4) ? r.pick(['Blurry scan, re-upload requested', 'Expired — ask for renewal', 'Scanned from C:\\Scans\\kyc, original pending']) : null;
    const ext = dt.code === 'PASSPORT_PHOTO' ? 'jpg' : r.chance(0.6) ? 'pdf' : 'jpg';
    const fileUrl = `${CLOUDINARY}/v${Math.floor(uploadedAt / 1000)}/${folder}/${ownerId}/${dt.code.toLowerCase()}-${id.slice(-6)}.${ext}`;
    const deletedAt = ownerDeletedAt ?? (r.chance(0.03) ? Math.min(AS_OF, uploadedAt + r.int(1, 90) * DAY) : null);
    t.add([
      id, ownerId, dt.id!, fileUrl, dt.authority ? r.pick(dt.authority) : null,
      issueDay === null ? null : ts(issueDay * DAY), expiryDay === null ? null : ts(expiryDay * DAY),
      verified, notes, uploader.id, ts(uploadedAt), tsOrNull(deletedAt),
    ]);
  }

  private generateLoan(
    r: Rng, memberId: string, memberCreatedAt: number, cursorDay: number, isLastIn: boolean,
    union: UnionInfo, oldUnion: UnionInfo | null, changedAt: number | null, firstName: string, lastName: string,
  ): { status: LoanStatus; nextCursorDay: number | null; lastEvent: number } {
    const T = this.tables;
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
    this.loanSeq++;
    const created = new Date(createdAt);
    const loanNumber = `LN${created.getUTCFullYear()}${pad2(created.getUTCMonth() + 1)}-${String(this.loanSeq).padStart(6, '0')}`;
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
    const payments: Payment[] = [];
    let closedAt: number | null = null;
    let defaultedAt: number | null = null;
    let writtenOffAt: number | null = null;
    if (disbursed) {
      const profile = r.float();
      const skipP = profile < 0.68 ? 0.06 : profile < 0.92 ? 0.15 : 0.35;
      const partialP = profile < 0.68 ? 0.04 : profile < 0.92 ? 0.2 : 0.25;
      const late = profile < 0.68 ? [-2, 2] : profile < 0.92 ? [0, 7] : [2, 20];
      let stopK = term;
      if (status === 'DEFAULTED' || status === 'WRITTEN_OFF') stopK = Math.floor(term * (0.15 + 0.5 * r.float()));
      let arrears = 0;
      let lastPay = disbursedAt!;
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
    } else if (status === 'CANCELED') {
      closedAt = (createdDay + r.int(1, 10)) * DAY + workMs(r);
    }
    const loanDeletedAt = status === 'CANCELED' && r.chance(0.3) ? Math.min(AS_OF, closedAt! + r.int(1, 30) * DAY) : null;

    // Allocate repayments FIFO over the schedule: allocations of a repayment sum to its amount.
    const paidPerItem = new Array<number>(term).fill(0);
    const itemClosedAt = new Array<number | null>(term).fill(null);
    const itemIds: string[] = [];
    const itemCreated = createdAt + r.int(1, 5) * 1000;
    for (let k = 0; k < term; k++) itemIds.push(T.RepaymentScheduleItem.id(itemCreated));
    const allocRows: Cell[][] = [];
    const repaymentRows: Cell[][] = [];
    let item = 0;
    let lastRepaymentCreated = 0;
    for (const p of payments) {
      const recorded = p.ms + r.int(1, 45) * MINUTE;
      const receiver = r.chance(0.9) || !officer.supervisor ? officer : officer.supervisor;
      const repaymentId = T.Repayment.id(recorded);
      const method = METHODS.pick(r);
      repaymentRows.push([
        repaymentId, loanId, receiver.id, money(p.amount), 'NGN', ts(p.ms), method, this.reference(method, p.ms, r),
        r.chance(0.06) ? r.pick(REPAYMENT_NOTES) : null, ts(recorded), ts(recorded), null,
      ]);
      let rem = p.amount;
      while (rem > 0) {
        while (paidPerItem[item] === totals[item]) item++;
        const a = Math.min(rem, totals[item] - paidPerItem[item]);
        paidPerItem[item] += a;
        rem -= a;
        allocRows.push([T.RepaymentAllocation.id(recorded), repaymentId, itemIds[item], money(a), ts(recorded)]);
        if (paidPerItem[item] === totals[item]) itemClosedAt[item] = recorded;
      }
      lastRepaymentCreated = recorded;
      this.record(officer, M_REPAID, p.ms, p.amount);
      if (r.chance(0.04)) {
        this.audit(receiver, 'REPAYMENT_RECORDED', 'Repayment', repaymentId, null, { loanId, amount: money(p.amount), method }, { display: displayNaira(p.amount), payer: `${firstName} ${lastName}` }, recorded, r);
      }
    }

    // Loan row, then its schedule, repayments and allocations (COPY order handles FKs).
    const updatedAt = Math.max(createdAt, disbursedAt ?? 0, lastRepaymentCreated, closedAt ?? 0, defaultedAt ?? 0, loanDeletedAt ?? 0);
    const creator = r.chance(0.85) || !officer.supervisor ? officer : officer.supervisor;
    T.Loan.add([
      loanId, loanNumber, memberId, loanUnion.id, type === LEGACY_LOAN ? null : type.id!, money(principal), 'NGN', term, type.unit,
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
      if (disbursed) this.record(officer, M_DUE, dueDays[k] * DAY, totals[k]);
    }
    for (const row of repaymentRows) T.Repayment.add(row);
    for (const row of allocRows) T.RepaymentAllocation.add(row);

    // Loan documents.
    if (status !== 'DRAFT') {
      const docTime = disbursedAt ?? createdAt;
      if (r.chance(0.85)) this.document(T.LoanDocument, loanId, 'loans', docType('LOAN_AGREEMENT'), createdAt, officer, r, null);
      if (r.chance(0.2)) this.document(T.LoanDocument, loanId, 'loans', docType('GUARANTOR_FORM'), createdAt, officer, r, null);
      if (type.name === 'SME Expansion Loan') {
        if (r.chance(0.6)) this.document(T.LoanDocument, loanId, 'loans', docType('BANK_STATEMENT'), createdAt, officer, r, null);
        if (r.chance(0.4)) this.document(T.LoanDocument, loanId, 'loans', docType('CAC_CERTIFICATE'), docTime, officer, r, null);
      }
    }

    // Audit trail and statistics.
    const supervisor = officer.supervisor ?? this.admins[0];
    const amountInfo = { loanNumber, principalAmount: money(principal), currency: 'NGN', display: displayNaira(principal) };
    this.audit(creator, 'LOAN_CREATED', 'Loan', loanId, null, { ...amountInfo, status: 'DRAFT', unionMemberId: memberId }, { borrower: `${firstName} ${lastName}`, product: type === LEGACY_LOAN ? null : type.name }, createdAt + 2000, r);
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
      this.audit(actor, transition[2], 'Loan', loanId, { status: transition[0] }, { status }, { loanNumber, note: status === 'WRITTEN_OFF' ? 'Board approval ref. BRD/2025/０１７' : null }, transition[1], r);
    }

    this.record(officer, M_NEW_LOANS, createdAt, 1);
    if (disbursed) {
      this.record(officer, M_DISBURSED_COUNT, disbursedAt!, 1);
      this.record(officer, M_DISBURSED, disbursedAt!, principal);
      this.record(officer, M_CONTRACTED, disbursedAt!, contracted);
    }
    if (status === 'COMPLETED') this.record(officer, M_COMPLETED, closedAt!, 1);
    if (defaultedAt !== null) this.record(officer, M_DEFAULTED, defaultedAt, 1);
    if (writtenOffAt !== null) this.record(officer, M_WRITTEN_OFF, writtenOffAt, contracted - payments.reduce((s, p) => s + p.amount, 0));

    const lastEvent = Math.max(updatedAt, ...payments.map((p) => p.ms));
    let next: number | null = null;
    if (!isLast) {
      const base = Math.floor((closedAt ?? createdAt) / DAY);
      next = base + r.int(3, 30);
      if (next > AS_OF_DAY - 10) next = null;
    }
    return { status, nextCursorDay: next, lastEvent };
  }

  private reference(method: string, ms: number, r: Rng): string | null {
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

  // ---- supervisor reports -------------------------------------------------------

  generateReports(): void {
    const r = this.rng(STREAM_REPORTS, 0);
    const T = this.tables;
    const months = this.months;
    for (const sup of this.supervisors) {
      const s = sup.supervisorIdx;
      const officers = this.officers.filter((o) => o.supervisorIdx === s);
      const officerSet = new Set(officers);
      const unionCount = this.unions.filter((u) => officerSet.has(u.officer)).length;
      const unionsPerOfficer = new Map<Staff, number>();
      for (const u of this.unions) unionsPerOfficer.set(u.officer, (unionsPerOfficer.get(u.officer) ?? 0) + 1);

      // Prefix sums over days for the supervisor's team.
      const prefix = new Float64Array((SPAN_DAYS + 1) * METRICS);
      for (let day = 0; day < SPAN_DAYS; day++) {
        for (let m = 0; m < METRICS; m++) {
          prefix[(day + 1) * METRICS + m] = prefix[day * METRICS + m] + this.supervisorDaily[(s * SPAN_DAYS + day) * METRICS + m];
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
              for (let mi = p.monthFrom; mi <= p.monthTo; mi++) v += this.officerMonthly[(o.officerIdx * months + mi) * METRICS + m];
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
}

function monthIndex(ms: number): number {
  const d = new Date(ms);
  return (d.getUTCFullYear() - 2024) * 12 + d.getUTCMonth();
}
function monthStartDay(mi: number): number {
  return Date.UTC(2024, mi, 1) / DAY;
}
function workMsFixed(i: number): number {
  return 8 * HOUR + i * 17 * MINUTE;
}
function ascii(s: string): string {
  return s.normalize('NFD').replace(/[^A-Za-z0-9-]/g, '');
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/**
 * Fills every lending table with realistic, deterministic demo data. Expects empty tables.
 *
 * Staff passwords: every demo User gets the same bcrypt hash of a random password that is
 * generated here (crypto.randomBytes) and never stored or printed, so no demo account can
 * log in until an admin resets its password. This is the only non-deterministic value.
 */
export async function seedDemoData(client: ClientBase, options: SeedOptions, onProgress?: (table: string, rows: number) => void): Promise<SeedReport> {
  const started = process.hrtime.bigint();
  const { members, seed } = options;
  const batchRows = options.batchRows ?? 25_000;
  if (!Number.isSafeInteger(members) || members < 1) throw new Error(`seedDemoData: members must be a positive integer, got ${members}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seedDemoData: seed must be a non-negative integer, got ${seed}`);
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw new Error(`seedDemoData: batchRows must be a positive integer, got ${batchRows}`);

  const passwordHash = await bcrypt.hash(randomBytes(32).toString('base64url'), 10);
  const gen = new DemoDataGenerator(members, seed, passwordHash);
  const tables = TABLE_ORDER.map((name) => gen.tables[name]);
  const buffered = () => tables.reduce((s, t) => s + t.lines.length, 0);

  const flush = async (batch: { table: Table; lines: string[] }[]): Promise<void> => {
    for (const { table, lines } of batch) {
      await pipeline(Readable.from(csvChunks(lines)), client.query(copyFrom(table.copySql)));
      table.total += lines.length;
      onProgress?.(table.name, table.total);
    }
  };
  const takeBatch = () => {
    const batch: { table: Table; lines: string[] }[] = [];
    for (const t of tables) {
      if (t.lines.length > 0) batch.push({ table: t, lines: t.lines });
      t.lines = [];
    }
    return batch;
  };

  let pending: Promise<void> = Promise.resolve();
  const send = async () => {
    const batch = takeBatch();
    await pending; // one COPY at a time on this connection
    pending = flush(batch);
    pending.catch(() => undefined); // awaited later; avoid an unhandled rejection meanwhile
  };

  await client.query('BEGIN');
  try {
    const empty = await client.query<{ t: string }>(
      TABLE_ORDER.map((t) => `SELECT '${t}' AS t WHERE EXISTS (SELECT 1 FROM "${t}")`).join(' UNION ALL '),
    );
    if (empty.rows.length > 0) throw new Error(`seedDemoData: tables are not empty: ${empty.rows.map((x) => x.t).join(', ')}`);

    gen.generateStaff();
    await send();
    let sinceCheck = 0;
    for (let i = 0; i < members; i++) {
      gen.generateMember(i);
      if (++sinceCheck === 64) {
        sinceCheck = 0;
        if (buffered() >= batchRows) await send();
        else await new Promise<void>((resolve) => setImmediate(resolve)); // let the COPY in flight progress
      }
    }
    gen.generateReports();
    await send();
    await pending;
    await client.query('COMMIT');
  } catch (err) {
    await pending.catch(() => undefined);
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }

  const rowsByTable: Record<string, number> = {};
  let totalRows = 0;
  for (const t of tables) {
    rowsByTable[t.name] = t.total;
    totalRows += t.total;
  }
  return { rowsByTable, totalRows, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
