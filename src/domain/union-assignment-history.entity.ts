import { APP_SCHEMA } from '../db/schemas';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { User } from './user.entity';

/**
 * Audit trail of a union being moved from one credit officer to another.
 * `unionId` deliberately has no foreign key (as in the Prisma schema).
 */
@Entity({ schema: APP_SCHEMA, name: 'UnionAssignmentHistory' })
@Index('UnionAssignmentHistory_unionId_changedAt_idx', ['unionId', 'changedAt'])
@Index('UnionAssignmentHistory_oldOfficerId_idx', ['oldOfficerId'])
@Index('UnionAssignmentHistory_newOfficerId_idx', ['newOfficerId'])
@Index('UnionAssignmentHistory_changedByUserId_idx', ['changedByUserId'])
export class UnionAssignmentHistory {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'UnionAssignmentHistory_pkey' })
  id!: string;

  @Column({ type: 'text' })
  unionId!: string;

  @Column({ type: 'text', nullable: true })
  oldOfficerId!: string | null;

  @Column({ type: 'text' })
  newOfficerId!: string;

  @ManyToOne(() => User, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'oldOfficerId', foreignKeyConstraintName: 'UnionAssignmentHistory_oldOfficerId_fkey' })
  oldOfficer!: Relation<User> | null;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'newOfficerId', foreignKeyConstraintName: 'UnionAssignmentHistory_newOfficerId_fkey' })
  newOfficer!: Relation<User>;

  @Column({ type: 'text' })
  changedByUserId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'changedByUserId', foreignKeyConstraintName: 'UnionAssignmentHistory_changedByUserId_fkey' })
  changedBy!: Relation<User>;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  changedAt!: Date;
}
