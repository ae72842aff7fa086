import type { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_SCHEMA, inAppSchema } from './app-schema';

/**
 * Creates the protected "lending" schema exactly as Prisma (Millennium Potters
 * backend/prisma/schema.prisma) creates it, so Kiln can run against either a
 * fresh database or the existing production database Prisma already owns.
 *
 * - Idempotent: enum types are created only when missing (catalog lookup, no
 *   DO blocks, so CockroachDB can run it), tables/indexes use IF NOT EXISTS and
 *   foreign keys are added only when a constraint of that name is missing.
 * - Ownership: if "User" did not exist before `up`, Kiln created the schema and
 *   records ('lending_schema_owner', 'kiln') in kiln_meta. `down` only drops the
 *   lending schema when that marker is present; a Prisma-owned database is
 *   never touched.
 *
 * The DDL is a frozen snapshot (it deliberately does not import the domain
 * enums/entities): later schema changes belong in new migrations.
 */

const OWNER_KEY = 'lending_schema_owner';
const OWNER_VALUE = 'kiln';

/** Postgres enum types, labels in Prisma declaration order. */
const ENUM_TYPES: ReadonlyArray<{ name: string; labels: readonly string[] }> = [
  { name: 'Role', labels: ['ADMIN', 'SUPERVISOR', 'CREDIT_OFFICER'] },
  {
    name: 'LoanStatus',
    labels: ['DRAFT', 'PENDING_APPROVAL', 'APPROVED', 'ACTIVE', 'COMPLETED', 'DEFAULTED', 'WRITTEN_OFF', 'CANCELED'],
  },
  { name: 'TermUnit', labels: ['DAY', 'WEEK', 'MONTH'] },
  { name: 'ScheduleStatus', labels: ['PENDING', 'PARTIAL', 'PAID', 'OVERDUE'] },
  { name: 'RepaymentMethod', labels: ['CASH', 'TRANSFER', 'POS', 'MOBILE', 'USSD', 'OTHER'] },
  { name: 'ReportType', labels: ['DAILY', 'WEEKLY', 'MONTHLY', 'QUARTERLY', 'CUSTOM'] },
];

/** Tables in foreign-key dependency order (parents first); `down` drops them in reverse. */
const TABLES: ReadonlyArray<{ name: string; ddl: string }> = [
  {
    name: 'User',
    ddl: `CREATE TABLE IF NOT EXISTS "User" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "role" "Role" NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "supervisorId" TEXT,
    "firstName" TEXT,
    "lastName" TEXT,
    "phone" TEXT,
    "address" TEXT,
    "profileImage" TEXT,
    "lastLoginAt" TIMESTAMP(3),
    "lastActivityAt" TIMESTAMP(3),
    "loginCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'CompanySetting',
    ddl: `CREATE TABLE IF NOT EXISTS "CompanySetting" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "phone" TEXT,
    "address" TEXT,
    "currency" TEXT DEFAULT 'NGN',
    "currencySymbol" TEXT DEFAULT '₦',
    "dateFormat" TEXT DEFAULT 'DD/MM/YYYY',
    "timeFormat" TEXT DEFAULT '24h',
    "timezone" TEXT DEFAULT 'Africa/Lagos',
    "invoicePrefix" TEXT DEFAULT 'INV-',
    "expensePrefix" TEXT DEFAULT 'EXP-',
    "logo" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "CompanySetting_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'DocumentType',
    ddl: `CREATE TABLE IF NOT EXISTS "DocumentType" (
    "id" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "DocumentType_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'LoanType',
    ddl: `CREATE TABLE IF NOT EXISTS "LoanType" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "minAmount" DECIMAL(14,2) NOT NULL,
    "maxAmount" DECIMAL(14,2) NOT NULL,
    "termUnit" "TermUnit" NOT NULL DEFAULT 'MONTH',
    "minTerm" INTEGER NOT NULL DEFAULT 1,
    "maxTerm" INTEGER NOT NULL DEFAULT 12,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "LoanType_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'Union',
    ddl: `CREATE TABLE IF NOT EXISTS "Union" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "location" TEXT,
    "address" TEXT,
    "creditOfficerId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "Union_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'UnionMember',
    ddl: `CREATE TABLE IF NOT EXISTS "UnionMember" (
    "id" TEXT NOT NULL,
    "code" TEXT,
    "firstName" TEXT NOT NULL,
    "lastName" TEXT NOT NULL,
    "phone" TEXT,
    "email" TEXT,
    "address" TEXT,
    "dateOfBirth" TIMESTAMP(3),
    "gender" TEXT,
    "maritalStatus" TEXT,
    "profession" TEXT,
    "company" TEXT,
    "city" TEXT,
    "state" TEXT,
    "country" TEXT,
    "zipCode" TEXT,
    "note" TEXT,
    "profileImage" TEXT,
    "isVerified" BOOLEAN NOT NULL DEFAULT true,
    "unionId" TEXT NOT NULL,
    "currentOfficerId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "UnionMember_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'Loan',
    ddl: `CREATE TABLE IF NOT EXISTS "Loan" (
    "id" TEXT NOT NULL,
    "loanNumber" TEXT NOT NULL,
    "unionMemberId" TEXT NOT NULL,
    "unionId" TEXT NOT NULL,
    "loanTypeId" TEXT,
    "principalAmount" DECIMAL(14,2) NOT NULL,
    "currencyCode" TEXT NOT NULL DEFAULT 'NGN',
    "termCount" INTEGER NOT NULL,
    "termUnit" "TermUnit" NOT NULL,
    "startDate" TIMESTAMP(3) NOT NULL,
    "endDate" TIMESTAMP(3),
    "processingFeeAmount" DECIMAL(14,2) NOT NULL,
    "processingFeeCollected" BOOLEAN NOT NULL DEFAULT false,
    "penaltyFeePerDayAmount" DECIMAL(14,2) NOT NULL,
    "status" "LoanStatus" NOT NULL DEFAULT 'DRAFT',
    "createdByUserId" TEXT NOT NULL,
    "assignedOfficerId" TEXT,
    "disbursedAt" TIMESTAMP(3),
    "closedAt" TIMESTAMP(3),
    "notes" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "Loan_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'RepaymentScheduleItem',
    ddl: `CREATE TABLE IF NOT EXISTS "RepaymentScheduleItem" (
    "id" TEXT NOT NULL,
    "loanId" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "dueDate" TIMESTAMP(3) NOT NULL,
    "principalDue" DECIMAL(14,2) NOT NULL,
    "interestDue" DECIMAL(14,2) NOT NULL DEFAULT 0,
    "feeDue" DECIMAL(14,2) NOT NULL DEFAULT 0,
    "totalDue" DECIMAL(14,2) NOT NULL,
    "paidAmount" DECIMAL(14,2) NOT NULL DEFAULT 0,
    "status" "ScheduleStatus" NOT NULL DEFAULT 'PENDING',
    "closedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "RepaymentScheduleItem_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'Repayment',
    ddl: `CREATE TABLE IF NOT EXISTS "Repayment" (
    "id" TEXT NOT NULL,
    "loanId" TEXT NOT NULL,
    "receivedByUserId" TEXT NOT NULL,
    "amount" DECIMAL(14,2) NOT NULL,
    "currencyCode" TEXT NOT NULL DEFAULT 'NGN',
    "paidAt" TIMESTAMP(3) NOT NULL,
    "method" "RepaymentMethod" NOT NULL,
    "reference" TEXT,
    "notes" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "Repayment_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'RepaymentAllocation',
    ddl: `CREATE TABLE IF NOT EXISTS "RepaymentAllocation" (
    "id" TEXT NOT NULL,
    "repaymentId" TEXT NOT NULL,
    "scheduleItemId" TEXT NOT NULL,
    "amount" DECIMAL(14,2) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "RepaymentAllocation_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'UnionAssignmentHistory',
    ddl: `CREATE TABLE IF NOT EXISTS "UnionAssignmentHistory" (
    "id" TEXT NOT NULL,
    "unionId" TEXT NOT NULL,
    "oldOfficerId" TEXT,
    "newOfficerId" TEXT NOT NULL,
    "changedByUserId" TEXT NOT NULL,
    "reason" TEXT,
    "changedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "UnionAssignmentHistory_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'UnionMemberReassignment',
    ddl: `CREATE TABLE IF NOT EXISTS "UnionMemberReassignment" (
    "id" TEXT NOT NULL,
    "unionMemberId" TEXT NOT NULL,
    "oldUnionId" TEXT,
    "newUnionId" TEXT NOT NULL,
    "oldOfficerId" TEXT,
    "newOfficerId" TEXT,
    "changedByUserId" TEXT NOT NULL,
    "reason" TEXT,
    "changedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "UnionMemberReassignment_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'UnionMemberDocument',
    ddl: `CREATE TABLE IF NOT EXISTS "UnionMemberDocument" (
    "id" TEXT NOT NULL,
    "unionMemberId" TEXT NOT NULL,
    "documentTypeId" TEXT NOT NULL,
    "fileUrl" TEXT NOT NULL,
    "issuingAuthority" TEXT,
    "issueDate" TIMESTAMP(3),
    "expiryDate" TIMESTAMP(3),
    "verified" BOOLEAN NOT NULL DEFAULT false,
    "verificationNotes" TEXT,
    "uploadedByUserId" TEXT NOT NULL,
    "uploadedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "UnionMemberDocument_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'LoanDocument',
    ddl: `CREATE TABLE IF NOT EXISTS "LoanDocument" (
    "id" TEXT NOT NULL,
    "loanId" TEXT NOT NULL,
    "documentTypeId" TEXT NOT NULL,
    "fileUrl" TEXT NOT NULL,
    "issuingAuthority" TEXT,
    "issueDate" TIMESTAMP(3),
    "expiryDate" TIMESTAMP(3),
    "verified" BOOLEAN NOT NULL DEFAULT false,
    "verificationNotes" TEXT,
    "uploadedByUserId" TEXT NOT NULL,
    "uploadedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deletedAt" TIMESTAMP(3),
    CONSTRAINT "LoanDocument_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'StaffSession',
    ddl: `CREATE TABLE IF NOT EXISTS "StaffSession" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "jwtId" TEXT NOT NULL,
    "userAgent" TEXT,
    "ipAddress" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "revokedAt" TIMESTAMP(3),
    CONSTRAINT "StaffSession_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'AuditLog',
    ddl: `CREATE TABLE IF NOT EXISTS "AuditLog" (
    "id" TEXT NOT NULL,
    "actorUserId" TEXT,
    "action" TEXT NOT NULL,
    "entityName" TEXT NOT NULL,
    "entityId" TEXT NOT NULL,
    "before" JSONB,
    "after" JSONB,
    "metadata" JSONB,
    "ipAddress" TEXT,
    "userAgent" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'UserLoginHistory',
    ddl: `CREATE TABLE IF NOT EXISTS "UserLoginHistory" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "loginAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ipAddress" TEXT,
    "userAgent" TEXT,
    "success" BOOLEAN NOT NULL DEFAULT true,
    "failureReason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "UserLoginHistory_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'UserNote',
    ddl: `CREATE TABLE IF NOT EXISTS "UserNote" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "category" TEXT,
    "isPrivate" BOOLEAN NOT NULL DEFAULT false,
    "createdByUserId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "UserNote_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'ReportSession',
    ddl: `CREATE TABLE IF NOT EXISTS "ReportSession" (
    "id" TEXT NOT NULL,
    "supervisorId" TEXT NOT NULL,
    "reportType" "ReportType" NOT NULL DEFAULT 'CUSTOM',
    "title" TEXT,
    "periodStart" TIMESTAMP(3) NOT NULL,
    "periodEnd" TIMESTAMP(3) NOT NULL,
    "totalOfficers" INTEGER NOT NULL DEFAULT 0,
    "totalUnions" INTEGER NOT NULL DEFAULT 0,
    "totalMembers" INTEGER NOT NULL DEFAULT 0,
    "totalLoans" INTEGER NOT NULL DEFAULT 0,
    "activeLoans" INTEGER NOT NULL DEFAULT 0,
    "completedLoans" INTEGER NOT NULL DEFAULT 0,
    "defaultedLoans" INTEGER NOT NULL DEFAULT 0,
    "totalDisbursed" DECIMAL(14,2) NOT NULL DEFAULT 0,
    "totalRepaid" DECIMAL(14,2) NOT NULL DEFAULT 0,
    "totalOutstanding" DECIMAL(14,2) NOT NULL DEFAULT 0,
    "collectionRate" DECIMAL(5,2) NOT NULL DEFAULT 0,
    "reportData" JSONB,
    "officerMetrics" JSONB,
    "generatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ReportSession_pkey" PRIMARY KEY ("id")
)`,
  },
  // The app's own backup feature; Kiln shares them row by row and never changes their shape.
  {
    name: 'backup_records',
    ddl: `CREATE TABLE IF NOT EXISTS "backup_records" (
    "id" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "fileSize" INTEGER NOT NULL,
    "location" TEXT NOT NULL,
    "cloudinaryUrl" TEXT,
    "localPath" TEXT,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "recordCounts" JSONB,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdBy" TEXT,
    CONSTRAINT "backup_records_pkey" PRIMARY KEY ("id")
)`,
  },
  {
    name: 'backup_schedule_settings',
    ddl: `CREATE TABLE IF NOT EXISTS "backup_schedule_settings" (
    "id" TEXT NOT NULL DEFAULT 'default',
    "frequency" TEXT NOT NULL DEFAULT 'disabled',
    "location" TEXT NOT NULL DEFAULT 'cloud',
    "retentionDays" INTEGER NOT NULL DEFAULT 30,
    "includeAuditLogs" BOOLEAN NOT NULL DEFAULT false,
    "includeSessions" BOOLEAN NOT NULL DEFAULT false,
    "lastBackupAt" TIMESTAMP(3),
    "nextBackupAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "backup_schedule_settings_pkey" PRIMARY KEY ("id")
)`,
  },
];

/** Unique indexes (Prisma @unique / @@unique: "<Model>_<fields>_key") and @@index ("<Model>_<fields>_idx"). */
const INDEXES: readonly string[] = [
  // backup_records
  'CREATE INDEX IF NOT EXISTS "backup_records_createdAt_idx" ON "backup_records"("createdAt")',
  'CREATE INDEX IF NOT EXISTS "backup_records_status_idx" ON "backup_records"("status")',
  'CREATE INDEX IF NOT EXISTS "backup_records_type_idx" ON "backup_records"("type")',
  // User
  'CREATE UNIQUE INDEX IF NOT EXISTS "User_email_key" ON "User"("email")',
  'CREATE INDEX IF NOT EXISTS "User_email_idx" ON "User"("email")',
  'CREATE INDEX IF NOT EXISTS "User_role_idx" ON "User"("role")',
  'CREATE INDEX IF NOT EXISTS "User_isActive_idx" ON "User"("isActive")',
  'CREATE INDEX IF NOT EXISTS "User_deletedAt_idx" ON "User"("deletedAt")',
  'CREATE INDEX IF NOT EXISTS "User_firstName_lastName_idx" ON "User"("firstName", "lastName")',
  'CREATE INDEX IF NOT EXISTS "User_lastLoginAt_idx" ON "User"("lastLoginAt")',
  'CREATE INDEX IF NOT EXISTS "User_supervisorId_idx" ON "User"("supervisorId")',
  // DocumentType
  'CREATE UNIQUE INDEX IF NOT EXISTS "DocumentType_code_key" ON "DocumentType"("code")',
  // LoanType
  'CREATE UNIQUE INDEX IF NOT EXISTS "LoanType_name_key" ON "LoanType"("name")',
  'CREATE INDEX IF NOT EXISTS "LoanType_name_idx" ON "LoanType"("name")',
  'CREATE INDEX IF NOT EXISTS "LoanType_isActive_idx" ON "LoanType"("isActive")',
  'CREATE INDEX IF NOT EXISTS "LoanType_deletedAt_idx" ON "LoanType"("deletedAt")',
  // Union
  'CREATE INDEX IF NOT EXISTS "Union_name_idx" ON "Union"("name")',
  'CREATE INDEX IF NOT EXISTS "Union_creditOfficerId_idx" ON "Union"("creditOfficerId")',
  'CREATE INDEX IF NOT EXISTS "Union_deletedAt_idx" ON "Union"("deletedAt")',
  // UnionMember
  'CREATE UNIQUE INDEX IF NOT EXISTS "UnionMember_code_key" ON "UnionMember"("code")',
  'CREATE INDEX IF NOT EXISTS "UnionMember_unionId_idx" ON "UnionMember"("unionId")',
  'CREATE INDEX IF NOT EXISTS "UnionMember_currentOfficerId_idx" ON "UnionMember"("currentOfficerId")',
  'CREATE INDEX IF NOT EXISTS "UnionMember_firstName_lastName_idx" ON "UnionMember"("firstName", "lastName")',
  'CREATE INDEX IF NOT EXISTS "UnionMember_email_idx" ON "UnionMember"("email")',
  'CREATE INDEX IF NOT EXISTS "UnionMember_phone_idx" ON "UnionMember"("phone")',
  'CREATE INDEX IF NOT EXISTS "UnionMember_deletedAt_idx" ON "UnionMember"("deletedAt")',
  // Loan
  'CREATE UNIQUE INDEX IF NOT EXISTS "Loan_loanNumber_key" ON "Loan"("loanNumber")',
  'CREATE INDEX IF NOT EXISTS "Loan_createdByUserId_idx" ON "Loan"("createdByUserId")',
  'CREATE INDEX IF NOT EXISTS "Loan_assignedOfficerId_idx" ON "Loan"("assignedOfficerId")',
  'CREATE INDEX IF NOT EXISTS "Loan_unionMemberId_idx" ON "Loan"("unionMemberId")',
  'CREATE INDEX IF NOT EXISTS "Loan_unionId_idx" ON "Loan"("unionId")',
  'CREATE INDEX IF NOT EXISTS "Loan_status_idx" ON "Loan"("status")',
  'CREATE INDEX IF NOT EXISTS "Loan_loanNumber_idx" ON "Loan"("loanNumber")',
  'CREATE INDEX IF NOT EXISTS "Loan_loanTypeId_idx" ON "Loan"("loanTypeId")',
  'CREATE INDEX IF NOT EXISTS "Loan_endDate_idx" ON "Loan"("endDate")',
  'CREATE INDEX IF NOT EXISTS "Loan_deletedAt_idx" ON "Loan"("deletedAt")',
  // RepaymentScheduleItem
  'CREATE UNIQUE INDEX IF NOT EXISTS "RepaymentScheduleItem_loanId_sequence_key" ON "RepaymentScheduleItem"("loanId", "sequence")',
  'CREATE INDEX IF NOT EXISTS "RepaymentScheduleItem_loanId_dueDate_idx" ON "RepaymentScheduleItem"("loanId", "dueDate")',
  // Repayment
  'CREATE INDEX IF NOT EXISTS "Repayment_loanId_paidAt_idx" ON "Repayment"("loanId", "paidAt")',
  'CREATE INDEX IF NOT EXISTS "Repayment_receivedByUserId_idx" ON "Repayment"("receivedByUserId")',
  // RepaymentAllocation
  'CREATE UNIQUE INDEX IF NOT EXISTS "RepaymentAllocation_repaymentId_scheduleItemId_key" ON "RepaymentAllocation"("repaymentId", "scheduleItemId")',
  'CREATE INDEX IF NOT EXISTS "RepaymentAllocation_scheduleItemId_idx" ON "RepaymentAllocation"("scheduleItemId")',
  // UnionAssignmentHistory
  'CREATE INDEX IF NOT EXISTS "UnionAssignmentHistory_unionId_changedAt_idx" ON "UnionAssignmentHistory"("unionId", "changedAt")',
  'CREATE INDEX IF NOT EXISTS "UnionAssignmentHistory_oldOfficerId_idx" ON "UnionAssignmentHistory"("oldOfficerId")',
  'CREATE INDEX IF NOT EXISTS "UnionAssignmentHistory_newOfficerId_idx" ON "UnionAssignmentHistory"("newOfficerId")',
  'CREATE INDEX IF NOT EXISTS "UnionAssignmentHistory_changedByUserId_idx" ON "UnionAssignmentHistory"("changedByUserId")',
  // UnionMemberReassignment
  'CREATE INDEX IF NOT EXISTS "UnionMemberReassignment_unionMemberId_changedAt_idx" ON "UnionMemberReassignment"("unionMemberId", "changedAt")',
  'CREATE INDEX IF NOT EXISTS "UnionMemberReassignment_oldUnionId_idx" ON "UnionMemberReassignment"("oldUnionId")',
  'CREATE INDEX IF NOT EXISTS "UnionMemberReassignment_newUnionId_idx" ON "UnionMemberReassignment"("newUnionId")',
  'CREATE INDEX IF NOT EXISTS "UnionMemberReassignment_oldOfficerId_idx" ON "UnionMemberReassignment"("oldOfficerId")',
  'CREATE INDEX IF NOT EXISTS "UnionMemberReassignment_newOfficerId_idx" ON "UnionMemberReassignment"("newOfficerId")',
  'CREATE INDEX IF NOT EXISTS "UnionMemberReassignment_changedByUserId_idx" ON "UnionMemberReassignment"("changedByUserId")',
  // UnionMemberDocument
  'CREATE INDEX IF NOT EXISTS "UnionMemberDocument_unionMemberId_idx" ON "UnionMemberDocument"("unionMemberId")',
  'CREATE INDEX IF NOT EXISTS "UnionMemberDocument_documentTypeId_idx" ON "UnionMemberDocument"("documentTypeId")',
  'CREATE INDEX IF NOT EXISTS "UnionMemberDocument_uploadedByUserId_idx" ON "UnionMemberDocument"("uploadedByUserId")',
  // LoanDocument
  'CREATE INDEX IF NOT EXISTS "LoanDocument_loanId_idx" ON "LoanDocument"("loanId")',
  'CREATE INDEX IF NOT EXISTS "LoanDocument_documentTypeId_idx" ON "LoanDocument"("documentTypeId")',
  'CREATE INDEX IF NOT EXISTS "LoanDocument_uploadedByUserId_idx" ON "LoanDocument"("uploadedByUserId")',
  // StaffSession
  'CREATE UNIQUE INDEX IF NOT EXISTS "StaffSession_jwtId_key" ON "StaffSession"("jwtId")',
  'CREATE INDEX IF NOT EXISTS "StaffSession_userId_idx" ON "StaffSession"("userId")',
  'CREATE INDEX IF NOT EXISTS "StaffSession_expiresAt_idx" ON "StaffSession"("expiresAt")',
  'CREATE INDEX IF NOT EXISTS "StaffSession_jwtId_idx" ON "StaffSession"("jwtId")',
  // AuditLog
  'CREATE INDEX IF NOT EXISTS "AuditLog_entityName_entityId_idx" ON "AuditLog"("entityName", "entityId")',
  'CREATE INDEX IF NOT EXISTS "AuditLog_createdAt_idx" ON "AuditLog"("createdAt")',
  'CREATE INDEX IF NOT EXISTS "AuditLog_actorUserId_idx" ON "AuditLog"("actorUserId")',
  // UserLoginHistory
  'CREATE INDEX IF NOT EXISTS "UserLoginHistory_userId_idx" ON "UserLoginHistory"("userId")',
  'CREATE INDEX IF NOT EXISTS "UserLoginHistory_loginAt_idx" ON "UserLoginHistory"("loginAt")',
  // UserNote
  'CREATE INDEX IF NOT EXISTS "UserNote_userId_idx" ON "UserNote"("userId")',
  'CREATE INDEX IF NOT EXISTS "UserNote_category_idx" ON "UserNote"("category")',
  'CREATE INDEX IF NOT EXISTS "UserNote_createdAt_idx" ON "UserNote"("createdAt")',
  'CREATE INDEX IF NOT EXISTS "UserNote_createdByUserId_idx" ON "UserNote"("createdByUserId")',
  // ReportSession
  'CREATE INDEX IF NOT EXISTS "ReportSession_supervisorId_idx" ON "ReportSession"("supervisorId")',
  'CREATE INDEX IF NOT EXISTS "ReportSession_generatedAt_idx" ON "ReportSession"("generatedAt")',
  'CREATE INDEX IF NOT EXISTS "ReportSession_reportType_idx" ON "ReportSession"("reportType")',
  'CREATE INDEX IF NOT EXISTS "ReportSession_periodStart_periodEnd_idx" ON "ReportSession"("periodStart", "periodEnd")',
];

/**
 * Foreign keys: constraint "<Model>_<column>_fkey" -> "<references>"("id").
 * Prisma defaults: required relation ON DELETE RESTRICT, optional relation
 * ON DELETE SET NULL; always ON UPDATE CASCADE.
 */
type OnDelete = 'RESTRICT' | 'SET NULL';
const FOREIGN_KEYS: ReadonlyArray<{ table: string; column: string; references: string; onDelete: OnDelete }> = [
  { table: 'User', column: 'supervisorId', references: 'User', onDelete: 'SET NULL' },
  { table: 'Union', column: 'creditOfficerId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'UnionMember', column: 'unionId', references: 'Union', onDelete: 'RESTRICT' },
  { table: 'UnionMember', column: 'currentOfficerId', references: 'User', onDelete: 'SET NULL' },
  { table: 'Loan', column: 'unionMemberId', references: 'UnionMember', onDelete: 'RESTRICT' },
  { table: 'Loan', column: 'unionId', references: 'Union', onDelete: 'RESTRICT' },
  { table: 'Loan', column: 'loanTypeId', references: 'LoanType', onDelete: 'SET NULL' },
  { table: 'Loan', column: 'createdByUserId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'Loan', column: 'assignedOfficerId', references: 'User', onDelete: 'SET NULL' },
  { table: 'RepaymentScheduleItem', column: 'loanId', references: 'Loan', onDelete: 'RESTRICT' },
  { table: 'Repayment', column: 'loanId', references: 'Loan', onDelete: 'RESTRICT' },
  { table: 'Repayment', column: 'receivedByUserId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'RepaymentAllocation', column: 'repaymentId', references: 'Repayment', onDelete: 'RESTRICT' },
  { table: 'RepaymentAllocation', column: 'scheduleItemId', references: 'RepaymentScheduleItem', onDelete: 'RESTRICT' },
  { table: 'UnionAssignmentHistory', column: 'oldOfficerId', references: 'User', onDelete: 'SET NULL' },
  { table: 'UnionAssignmentHistory', column: 'newOfficerId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'UnionAssignmentHistory', column: 'changedByUserId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'UnionMemberReassignment', column: 'unionMemberId', references: 'UnionMember', onDelete: 'RESTRICT' },
  { table: 'UnionMemberReassignment', column: 'oldUnionId', references: 'Union', onDelete: 'SET NULL' },
  { table: 'UnionMemberReassignment', column: 'newUnionId', references: 'Union', onDelete: 'RESTRICT' },
  { table: 'UnionMemberReassignment', column: 'oldOfficerId', references: 'User', onDelete: 'SET NULL' },
  { table: 'UnionMemberReassignment', column: 'newOfficerId', references: 'User', onDelete: 'SET NULL' },
  { table: 'UnionMemberReassignment', column: 'changedByUserId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'UnionMemberDocument', column: 'unionMemberId', references: 'UnionMember', onDelete: 'RESTRICT' },
  { table: 'UnionMemberDocument', column: 'documentTypeId', references: 'DocumentType', onDelete: 'RESTRICT' },
  { table: 'UnionMemberDocument', column: 'uploadedByUserId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'LoanDocument', column: 'loanId', references: 'Loan', onDelete: 'RESTRICT' },
  { table: 'LoanDocument', column: 'documentTypeId', references: 'DocumentType', onDelete: 'RESTRICT' },
  { table: 'LoanDocument', column: 'uploadedByUserId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'StaffSession', column: 'userId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'AuditLog', column: 'actorUserId', references: 'User', onDelete: 'SET NULL' },
  { table: 'UserLoginHistory', column: 'userId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'UserNote', column: 'userId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'UserNote', column: 'createdByUserId', references: 'User', onDelete: 'RESTRICT' },
  { table: 'ReportSession', column: 'supervisorId', references: 'User', onDelete: 'RESTRICT' },
];

const CREATE_KILN_META = 'CREATE TABLE IF NOT EXISTS kiln_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)';

async function enumTypeExists(queryRunner: QueryRunner, name: string): Promise<boolean> {
  const rows = (await queryRunner.query(
    'SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typname = $1 AND n.nspname = current_schema()',
    [name],
  )) as unknown[];
  return rows.length > 0;
}

async function tableExists(queryRunner: QueryRunner, name: string): Promise<boolean> {
  const rows = (await queryRunner.query(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`,
    [name],
  )) as unknown[];
  return rows.length > 0;
}

async function constraintExists(queryRunner: QueryRunner, table: string, name: string): Promise<boolean> {
  const rows = (await queryRunner.query(
    `SELECT 1 FROM information_schema.table_constraints
      WHERE constraint_schema = current_schema() AND table_name = $1 AND constraint_name = $2`,
    [table, name],
  )) as unknown[];
  return rows.length > 0;
}

/** SQL string literal; only used for the hard-coded enum labels above. */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export class LendingSchema1764000000000 implements MigrationInterface {
  name = 'LendingSchema1764000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    const kilnOwnsSchema = await inAppSchema(queryRunner, () => this.createAppSchema(queryRunner));
    // kiln_meta is Kiln's: it lands in Kiln's schema, first on the search_path.
    await queryRunner.query(CREATE_KILN_META);
    if (kilnOwnsSchema) {
      await queryRunner.query('INSERT INTO kiln_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
        OWNER_KEY,
        OWNER_VALUE,
      ]);
    }
  }

  /** The app's 21 tables in `public`, as Prisma makes them; true when none existed before (Kiln made them). */
  private async createAppSchema(queryRunner: QueryRunner): Promise<boolean> {
    const kilnOwnsSchema = !(await tableExists(queryRunner, 'User'));

    for (const { name, labels } of ENUM_TYPES) {
      if (!(await enumTypeExists(queryRunner, name))) {
        await queryRunner.query(`CREATE TYPE "${name}" AS ENUM (${labels.map(literal).join(', ')})`);
      }
    }

    for (const { ddl } of TABLES) {
      await queryRunner.query(ddl);
    }

    for (const statement of INDEXES) {
      await queryRunner.query(statement);
    }

    for (const { table, column, references, onDelete } of FOREIGN_KEYS) {
      const name = `${table}_${column}_fkey`;
      if (!(await constraintExists(queryRunner, table, name))) {
        await queryRunner.query(
          `ALTER TABLE "${table}" ADD CONSTRAINT "${name}" FOREIGN KEY ("${column}") ` +
            `REFERENCES "${references}"("id") ON DELETE ${onDelete} ON UPDATE CASCADE`,
        );
      }
    }
    return kilnOwnsSchema;
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    if (!(await tableExists(queryRunner, 'kiln_meta'))) return;

    const marker = (await queryRunner.query('SELECT 1 FROM kiln_meta WHERE key = $1 AND value = $2', [
      OWNER_KEY,
      OWNER_VALUE,
    ])) as unknown[];
    if (marker.length > 0) {
      // Kiln created this schema, so it may remove it. Children first; no CASCADE.
      for (const { name } of [...TABLES].reverse()) {
        await queryRunner.query(`DROP TABLE IF EXISTS ${APP_SCHEMA}."${name}"`);
      }
      for (const { name } of [...ENUM_TYPES].reverse()) {
        await queryRunner.query(`DROP TYPE IF EXISTS ${APP_SCHEMA}."${name}"`);
      }
      await queryRunner.query('DELETE FROM kiln_meta WHERE key = $1', [OWNER_KEY]);
    }
    // Otherwise the lending schema belongs to Prisma: leave it alone.

    const remaining = (await queryRunner.query('SELECT 1 FROM kiln_meta LIMIT 1')) as unknown[];
    if (remaining.length === 0) {
      await queryRunner.query('DROP TABLE kiln_meta');
    }
  }
}
