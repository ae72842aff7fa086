import { APP_SCHEMA } from '../db/schemas';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { TimestampedEntity } from './timestamped.entity';

/** A kind of KYC/loan document (ID card, utility bill, guarantor form, ...). */
@Entity({ schema: APP_SCHEMA, name: 'DocumentType' })
@Index('DocumentType_code_key', ['code'], { unique: true })
export class DocumentType extends TimestampedEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'DocumentType_pkey' })
  id!: string;

  @Column({ type: 'text' })
  code!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'boolean', default: true })
  isActive!: boolean;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
