import { APP_SCHEMA } from '../db/schemas';
import {
  BeforeInsert,
  BeforeUpdate,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
} from 'typeorm';

/** A kind of KYC/loan document (ID card, utility bill, guarantor form, ...). */
@Entity({ schema: APP_SCHEMA, name: 'DocumentType' })
@Index('DocumentType_code_key', ['code'], { unique: true })
export class DocumentType {
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

  @CreateDateColumn({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt!: Date;

  /** Prisma `@updatedAt`: maintained by the client, no database default. */
  @Column({ type: 'timestamp', precision: 3 })
  updatedAt!: Date;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;

  @BeforeInsert()
  protected initUpdatedAt(): void {
    this.updatedAt ??= new Date();
  }

  @BeforeUpdate()
  protected touchUpdatedAt(): void {
    this.updatedAt = new Date();
  }
}
