import { APP_SCHEMA } from '../db/schemas';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { TimestampedEntity } from './timestamped.entity';
import { TermUnit } from './lending-enums';

/** A loan product: amount and term limits that a loan is issued under. */
@Entity({ schema: APP_SCHEMA, name: 'LoanType' })
@Index('LoanType_name_key', ['name'], { unique: true })
@Index('LoanType_name_idx', ['name'])
@Index('LoanType_isActive_idx', ['isActive'])
@Index('LoanType_deletedAt_idx', ['deletedAt'])
export class LoanType extends TimestampedEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'LoanType_pkey' })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  minAmount!: string;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  maxAmount!: string;

  @Column({ type: 'enum', enum: TermUnit, enumName: 'TermUnit', default: TermUnit.MONTH })
  termUnit!: TermUnit;

  @Column({ type: 'integer', default: 1 })
  minTerm!: number;

  @Column({ type: 'integer', default: 12 })
  maxTerm!: number;

  @Column({ type: 'boolean', default: true })
  isActive!: boolean;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
