import { APP_SCHEMA } from '../db/schemas';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { User } from './user.entity';

/** A staff login session, keyed by the JWT id so it can be revoked. */
@Entity({ schema: APP_SCHEMA, name: 'StaffSession' })
@Index('StaffSession_jwtId_key', ['jwtId'], { unique: true })
@Index('StaffSession_userId_idx', ['userId'])
@Index('StaffSession_expiresAt_idx', ['expiresAt'])
@Index('StaffSession_jwtId_idx', ['jwtId'])
export class StaffSession {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'StaffSession_pkey' })
  id!: string;

  @Column({ type: 'text' })
  userId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'userId', foreignKeyConstraintName: 'StaffSession_userId_fkey' })
  user!: Relation<User>;

  @Column({ type: 'text' })
  jwtId!: string;

  @Column({ type: 'text', nullable: true })
  userAgent!: string | null;

  @Column({ type: 'text', nullable: true })
  ipAddress!: string | null;

  @CreateDateColumn({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt!: Date;

  @Column({ type: 'timestamp', precision: 3 })
  expiresAt!: Date;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  revokedAt!: Date | null;
}
