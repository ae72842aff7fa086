import { APP_SCHEMA } from '../db/schemas';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { User } from './user.entity';

/** One staff login attempt (successful or failed). */
@Entity({ schema: APP_SCHEMA, name: 'UserLoginHistory' })
@Index('UserLoginHistory_userId_idx', ['userId'])
@Index('UserLoginHistory_loginAt_idx', ['loginAt'])
export class UserLoginHistory {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'UserLoginHistory_pkey' })
  id!: string;

  @Column({ type: 'text' })
  userId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'userId', foreignKeyConstraintName: 'UserLoginHistory_userId_fkey' })
  user!: Relation<User>;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  loginAt!: Date;

  @Column({ type: 'text', nullable: true })
  ipAddress!: string | null;

  @Column({ type: 'text', nullable: true })
  userAgent!: string | null;

  @Column({ type: 'boolean', default: true })
  success!: boolean;

  @Column({ type: 'text', nullable: true })
  failureReason!: string | null;

  @CreateDateColumn({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt!: Date;
}
