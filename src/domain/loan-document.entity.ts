import { APP_SCHEMA } from '../db/schemas';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { DocumentType } from './document-type.entity';
import { Loan } from './loan.entity';
import { User } from './user.entity';

/** A document (file URL + verification state) attached to a loan. */
@Entity({ schema: APP_SCHEMA, name: 'LoanDocument' })
@Index('LoanDocument_loanId_idx', ['loanId'])
@Index('LoanDocument_documentTypeId_idx', ['documentTypeId'])
@Index('LoanDocument_uploadedByUserId_idx', ['uploadedByUserId'])
export class LoanDocument {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'LoanDocument_pkey' })
  id!: string;

  @Column({ type: 'text' })
  loanId!: string;

  @ManyToOne(() => Loan, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'loanId', foreignKeyConstraintName: 'LoanDocument_loanId_fkey' })
  loan!: Relation<Loan>;

  @Column({ type: 'text' })
  documentTypeId!: string;

  @ManyToOne(() => DocumentType, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'documentTypeId', foreignKeyConstraintName: 'LoanDocument_documentTypeId_fkey' })
  documentType!: Relation<DocumentType>;

  @Column({ type: 'text' })
  fileUrl!: string;

  @Column({ type: 'text', nullable: true })
  issuingAuthority!: string | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  issueDate!: Date | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  expiryDate!: Date | null;

  @Column({ type: 'boolean', default: false })
  verified!: boolean;

  @Column({ type: 'text', nullable: true })
  verificationNotes!: string | null;

  @Column({ type: 'text' })
  uploadedByUserId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'uploadedByUserId', foreignKeyConstraintName: 'LoanDocument_uploadedByUserId_fkey' })
  uploadedBy!: Relation<User>;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  uploadedAt!: Date;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
