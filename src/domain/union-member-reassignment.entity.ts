import { APP_SCHEMA } from '../db/schemas';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { Union } from './union.entity';
import { UnionMember } from './union-member.entity';
import { User } from './user.entity';

/** Audit trail of a member being moved between unions and/or credit officers. */
@Entity({ schema: APP_SCHEMA, name: 'UnionMemberReassignment' })
@Index('UnionMemberReassignment_unionMemberId_changedAt_idx', ['unionMemberId', 'changedAt'])
@Index('UnionMemberReassignment_oldUnionId_idx', ['oldUnionId'])
@Index('UnionMemberReassignment_newUnionId_idx', ['newUnionId'])
@Index('UnionMemberReassignment_oldOfficerId_idx', ['oldOfficerId'])
@Index('UnionMemberReassignment_newOfficerId_idx', ['newOfficerId'])
@Index('UnionMemberReassignment_changedByUserId_idx', ['changedByUserId'])
export class UnionMemberReassignment {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'UnionMemberReassignment_pkey' })
  id!: string;

  @Column({ type: 'text' })
  unionMemberId!: string;

  @ManyToOne(() => UnionMember, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'unionMemberId', foreignKeyConstraintName: 'UnionMemberReassignment_unionMemberId_fkey' })
  unionMember!: Relation<UnionMember>;

  @Column({ type: 'text', nullable: true })
  oldUnionId!: string | null;

  @Column({ type: 'text' })
  newUnionId!: string;

  @ManyToOne(() => Union, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'oldUnionId', foreignKeyConstraintName: 'UnionMemberReassignment_oldUnionId_fkey' })
  oldUnion!: Relation<Union> | null;

  @ManyToOne(() => Union, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'newUnionId', foreignKeyConstraintName: 'UnionMemberReassignment_newUnionId_fkey' })
  newUnion!: Relation<Union>;

  @Column({ type: 'text', nullable: true })
  oldOfficerId!: string | null;

  @Column({ type: 'text', nullable: true })
  newOfficerId!: string | null;

  @ManyToOne(() => User, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'oldOfficerId', foreignKeyConstraintName: 'UnionMemberReassignment_oldOfficerId_fkey' })
  oldOfficer!: Relation<User> | null;

  @ManyToOne(() => User, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'newOfficerId', foreignKeyConstraintName: 'UnionMemberReassignment_newOfficerId_fkey' })
  newOfficer!: Relation<User> | null;

  @Column({ type: 'text' })
  changedByUserId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'changedByUserId', foreignKeyConstraintName: 'UnionMemberReassignment_changedByUserId_fkey' })
  changedBy!: Relation<User>;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  changedAt!: Date;
}
