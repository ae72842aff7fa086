import { APP_SCHEMA } from '../db/schemas';
import { BeforeInsert, BeforeUpdate, Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Company-wide settings (name, contact, currency and formatting preferences). */
@Entity({ schema: APP_SCHEMA, name: 'CompanySetting' })
export class CompanySetting {
  /** No generated default in Prisma: the application chooses the id. */
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'CompanySetting_pkey' })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  email!: string;

  @Column({ type: 'text', nullable: true })
  phone!: string | null;

  @Column({ type: 'text', nullable: true })
  address!: string | null;

  @Column({ type: 'text', nullable: true, default: 'NGN' })
  currency!: string | null;

  @Column({ type: 'text', nullable: true, default: '₦' })
  currencySymbol!: string | null;

  @Column({ type: 'text', nullable: true, default: 'DD/MM/YYYY' })
  dateFormat!: string | null;

  @Column({ type: 'text', nullable: true, default: '24h' })
  timeFormat!: string | null;

  @Column({ type: 'text', nullable: true, default: 'Africa/Lagos' })
  timezone!: string | null;

  @Column({ type: 'text', nullable: true, default: 'INV-' })
  invoicePrefix!: string | null;

  @Column({ type: 'text', nullable: true, default: 'EXP-' })
  expensePrefix!: string | null;

  @Column({ type: 'text', nullable: true })
  logo!: string | null;

  @CreateDateColumn({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt!: Date;

  /** Prisma `@updatedAt`: maintained by the client, no database default. */
  @Column({ type: 'timestamp', precision: 3 })
  updatedAt!: Date;

  @BeforeInsert()
  protected initUpdatedAt(): void {
    this.updatedAt ??= new Date();
  }

  @BeforeUpdate()
  protected touchUpdatedAt(): void {
    this.updatedAt = new Date();
  }
}
