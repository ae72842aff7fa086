/**
 * What the demo lender sells and asks for: loan products (with the pricing the generator
 * applies), KYC and loan document types, and how loans tend to end and get repaid. The
 * catalogue is read-only; a run keeps the ids it gives these rows in its SeedContext, so
 * concurrent runs cannot see each other's ids.
 */
import { N } from './calendar-money.util';
import { Weighted } from './seeded-random.util';

export type LoanStatus = 'DRAFT' | 'PENDING_APPROVAL' | 'APPROVED' | 'ACTIVE' | 'COMPLETED' | 'DEFAULTED' | 'WRITTEN_OFF' | 'CANCELED';
export type TermUnit = 'DAY' | 'WEEK' | 'MONTH';

export interface LoanTypeDef {
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
}
export const LOAN_TYPES: readonly LoanTypeDef[] = [
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
export const LEGACY_LOAN: LoanTypeDef = { name: 'legacy', description: null, unit: 'MONTH', min: 20_000 * N, max: 400_000 * N, minTerm: 1, maxTerm: 6, terms: [3, 4, 6], rateBp: 500, feeKobo: 0, processingBp: 200, weight: 3, isActive: true, deleted: false };
export const LOAN_TYPE_TABLE = new Weighted<LoanTypeDef>([...LOAN_TYPES.filter((t) => t.weight > 0).map((t) => [t, t.weight] as const), [LEGACY_LOAN, LEGACY_LOAN.weight]]);

export interface DocTypeDef {
  code: string;
  name: string;
  description: string | null;
  isActive: boolean;
  deleted: boolean;
  authority: readonly string[] | null;
  validYears: number | null;
}
export const DOC_TYPES: readonly DocTypeDef[] = [
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
export const docType = (code: string): DocTypeDef => DOC_TYPES.find((d) => d.code === code)!;

/** A member's earlier loans have all ended (a new loan follows them); only the last one can still be open. */
export const PREV_LOAN_STATUS = new Weighted<LoanStatus>([['COMPLETED', 93], ['CANCELED', 7]]);
export const LAST_LOAN_STATUS = new Weighted<LoanStatus>([
  ['DRAFT', 4], ['PENDING_APPROVAL', 6], ['APPROVED', 5], ['ACTIVE', 45], ['COMPLETED', 22], ['DEFAULTED', 8], ['WRITTEN_OFF', 4], ['CANCELED', 6],
]);
/** Payment channels, cash-heavy like the market lenders the schema comes from. */
export const METHODS = new Weighted<string>([['CASH', 40], ['TRANSFER', 30], ['POS', 10], ['MOBILE', 10], ['USSD', 8], ['OTHER', 2]]);
export const REPAYMENT_NOTES = ['Paid at union meeting', 'Part payment — balance next week', 'Paid by husband', 'Paid via agent 🙏', 'Customer said "will complete Friday"', 'Paid at the stall, receipt issued', 'Transfer from daughter, Lagos → Ibadan', 'Cash counted twice, ₦ notes ok'];
