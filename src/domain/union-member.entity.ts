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
import { Union } from './union.entity';
import { User } from './user.entity';

/** A borrower: a member of a union (formerly "Customer"). */
@Entity({ schema: APP_SCHEMA, name: 'UnionMember' })
@Index('UnionMember_code_key', ['code'], { unique: true })
@Index('UnionMember_unionId_idx', ['unionId'])
@Index('UnionMember_currentOfficerId_idx', ['currentOfficerId'])
@Index('UnionMember_firstName_lastName_idx', ['firstName', 'lastName'])
@Index('UnionMember_email_idx', ['email'])
@Index('UnionMember_phone_idx', ['phone'])
@Index('UnionMember_deletedAt_idx', ['deletedAt'])
export class UnionMember extends TimestampedEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'UnionMember_pkey' })
  id!: string;

  @Column({ type: 'text', nullable: true })
  code!: string | null;

  @Column({ type: 'text' })
  firstName!: string;

  @Column({ type: 'text' })
  lastName!: string;

  @Column({ type: 'text', nullable: true })
  phone!: string | null;

  @Column({ type: 'text', nullable: true })
  email!: string | null;

  @Column({ type: 'text', nullable: true })
  address!: string | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  dateOfBirth!: Date | null;

  @Column({ type: 'text', nullable: true })
  gender!: string | null;

  @Column({ type: 'text', nullable: true })
  maritalStatus!: string | null;

  @Column({ type: 'text', nullable: true })
  profession!: string | null;

  @Column({ type: 'text', nullable: true })
  company!: string | null;

  @Column({ type: 'text', nullable: true })
  city!: string | null;

  @Column({ type: 'text', nullable: true })
  state!: string | null;

  @Column({ type: 'text', nullable: true })
  country!: string | null;

  @Column({ type: 'text', nullable: true })
  zipCode!: string | null;

  @Column({ type: 'text', nullable: true })
  note!: string | null;

  @Column({ type: 'text', nullable: true })
  profileImage!: string | null;

  @Column({ type: 'boolean', default: true })
  isVerified!: boolean;

  @Column({ type: 'text' })
  unionId!: string;

  @ManyToOne(() => Union, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'unionId', foreignKeyConstraintName: 'UnionMember_unionId_fkey' })
  union!: Relation<Union>;

  @Column({ type: 'text', nullable: true })
  currentOfficerId!: string | null;

  @ManyToOne(() => User, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'currentOfficerId', foreignKeyConstraintName: 'UnionMember_currentOfficerId_fkey' })
  currentOfficer!: Relation<User> | null;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
