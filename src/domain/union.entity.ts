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

/** A savings/lending group of members, managed by one credit officer. */
@Entity({ schema: APP_SCHEMA, name: 'Union' })
@Index('Union_name_idx', ['name'])
@Index('Union_creditOfficerId_idx', ['creditOfficerId'])
@Index('Union_deletedAt_idx', ['deletedAt'])
export class Union extends TimestampedEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'Union_pkey' })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', nullable: true })
  location!: string | null;

  @Column({ type: 'text', nullable: true })
  address!: string | null;

  @Column({ type: 'text' })
  creditOfficerId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'creditOfficerId', foreignKeyConstraintName: 'Union_creditOfficerId_fkey' })
  creditOfficer!: Relation<User>;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
