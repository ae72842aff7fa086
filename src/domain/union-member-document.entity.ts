import { APP_SCHEMA } from '../db/schemas';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { DocumentType } from './document-type.entity';
import { UnionMember } from './union-member.entity';
import { User } from './user.entity';

/** A document (file URL + verification state) uploaded for a union member. */
@Entity({ schema: APP_SCHEMA, name: 'UnionMemberDocument' })
@Index('UnionMemberDocument_unionMemberId_idx', ['unionMemberId'])
@Index('UnionMemberDocument_documentTypeId_idx', ['documentTypeId'])
@Index('UnionMemberDocument_uploadedByUserId_idx', ['uploadedByUserId'])
export class UnionMemberDocument {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'UnionMemberDocument_pkey' })
  id!: string;

  @Column({ type: 'text' })
  unionMemberId!: string;

  @ManyToOne(() => UnionMember, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'unionMemberId', foreignKeyConstraintName: 'UnionMemberDocument_unionMemberId_fkey' })
  unionMember!: Relation<UnionMember>;

  @Column({ type: 'text' })
  documentTypeId!: string;

  @ManyToOne(() => DocumentType, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'documentTypeId', foreignKeyConstraintName: 'UnionMemberDocument_documentTypeId_fkey' })
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
  @JoinColumn({ name: 'uploadedByUserId', foreignKeyConstraintName: 'UnionMemberDocument_uploadedByUserId_fkey' })
  uploadedBy!: Relation<User>;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  uploadedAt!: Date;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
