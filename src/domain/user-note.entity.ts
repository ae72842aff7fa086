import { APP_SCHEMA } from '../db/schemas';
import {
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import type { Relation } from 'typeorm';
import { TimestampedEntity } from './timestamped.entity';
import { User } from './user.entity';

/** A note written about a staff member (performance, feedback, ...). */
@Entity({ schema: APP_SCHEMA, name: 'UserNote' })
@Index('UserNote_userId_idx', ['userId'])
@Index('UserNote_category_idx', ['category'])
@Index('UserNote_createdAt_idx', ['createdAt'])
@Index('UserNote_createdByUserId_idx', ['createdByUserId'])
export class UserNote extends TimestampedEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'UserNote_pkey' })
  id!: string;

  /** The staff member the note is about. */
  @Column({ type: 'text' })
  userId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'userId', foreignKeyConstraintName: 'UserNote_userId_fkey' })
  user!: Relation<User>;

  @Column({ type: 'text' })
  title!: string;

  @Column({ type: 'text' })
  content!: string;

  /** e.g. "general", "performance", "customer_feedback" */
  @Column({ type: 'text', nullable: true })
  category!: string | null;

  @Column({ type: 'boolean', default: false })
  isPrivate!: boolean;

  @Column({ type: 'text' })
  createdByUserId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'createdByUserId', foreignKeyConstraintName: 'UserNote_createdByUserId_fkey' })
  createdBy!: Relation<User>;
}
