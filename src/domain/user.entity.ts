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
import { Field, ID, ObjectType } from 'type-graphql';
import { Role } from './lending-enums';

/** A staff account (admin, supervisor or credit officer) that runs the lending back office. */
@ObjectType('User')
@Entity({ schema: APP_SCHEMA, name: 'User' })
@Index('User_email_key', ['email'], { unique: true })
@Index('User_email_idx', ['email'])
@Index('User_role_idx', ['role'])
@Index('User_isActive_idx', ['isActive'])
@Index('User_deletedAt_idx', ['deletedAt'])
@Index('User_firstName_lastName_idx', ['firstName', 'lastName'])
@Index('User_lastLoginAt_idx', ['lastLoginAt'])
@Index('User_supervisorId_idx', ['supervisorId'])
export class User extends TimestampedEntity {
  @Field(() => ID)
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'User_pkey' })
  id!: string;

  @Field()
  @Column({ type: 'text' })
  email!: string;

  @Column({ type: 'text' })
  passwordHash!: string;

  @Field(() => Role)
  @Column({ type: 'enum', enum: Role, enumName: 'Role' })
  role!: Role;

  @Field()
  @Column({ type: 'boolean', default: true })
  isActive!: boolean;

  /** Supervisor of a credit officer. */
  @Column({ type: 'text', nullable: true })
  supervisorId!: string | null;

  @ManyToOne(() => User, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'supervisorId', foreignKeyConstraintName: 'User_supervisorId_fkey' })
  supervisor!: Relation<User> | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'text', nullable: true })
  firstName!: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'text', nullable: true })
  lastName!: string | null;

  @Column({ type: 'text', nullable: true })
  phone!: string | null;

  @Column({ type: 'text', nullable: true })
  address!: string | null;

  @Column({ type: 'text', nullable: true })
  profileImage!: string | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  lastLoginAt!: Date | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  lastActivityAt!: Date | null;

  @Column({ type: 'integer', default: 0 })
  loginCount!: number;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
