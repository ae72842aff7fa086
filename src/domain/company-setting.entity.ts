import { APP_SCHEMA } from '../db/schemas';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimestampedEntity } from './timestamped.entity';

/** Company-wide settings (name, contact, currency and formatting preferences). */
@Entity({ schema: APP_SCHEMA, name: 'CompanySetting' })
export class CompanySetting extends TimestampedEntity {
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
}
