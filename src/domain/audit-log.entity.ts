import { APP_SCHEMA } from '../db/schemas';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { User } from './user.entity';

/**
 * A value stored in a Prisma `Json` (jsonb) column. Deliberately shallow:
 * a recursive JSON type makes TypeORM's insert()/update() typings blow up
 * ("Type instantiation is excessively deep").
 */
export type JsonValue = string | number | boolean | object | null;

/** An audit record of an action on an entity, with before/after JSON snapshots. */
@Entity({ schema: APP_SCHEMA, name: 'AuditLog' })
@Index('AuditLog_entityName_entityId_idx', ['entityName', 'entityId'])
@Index('AuditLog_createdAt_idx', ['createdAt'])
@Index('AuditLog_actorUserId_idx', ['actorUserId'])
export class AuditLog {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'AuditLog_pkey' })
  id!: string;

  @Column({ type: 'text', nullable: true })
  actorUserId!: string | null;

  @ManyToOne(() => User, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'actorUserId', foreignKeyConstraintName: 'AuditLog_actorUserId_fkey' })
  actor!: Relation<User> | null;

  /** e.g. LOAN_CREATED, CUSTOMER_REASSIGNED, DELETE_CONFIRMED */
  @Column({ type: 'text' })
  action!: string;

  /** e.g. Loan, Customer, Repayment */
  @Column({ type: 'text' })
  entityName!: string;

  @Column({ type: 'text' })
  entityId!: string;

  /** Snapshot before the change (SQL NULL when absent). */
  @Column({ type: 'jsonb', nullable: true })
  before!: JsonValue | null;

  /** Snapshot after the change (SQL NULL when absent). */
  @Column({ type: 'jsonb', nullable: true })
  after!: JsonValue | null;

  @Column({ type: 'jsonb', nullable: true })
  metadata!: JsonValue | null;

  @Column({ type: 'text', nullable: true })
  ipAddress!: string | null;

  @Column({ type: 'text', nullable: true })
  userAgent!: string | null;

  @CreateDateColumn({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt!: Date;
}
