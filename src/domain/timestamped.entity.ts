import { BeforeInsert, BeforeUpdate, Column, CreateDateColumn } from 'typeorm';

/**
 * Prisma's `createdAt DateTime @default(now())` and `updatedAt DateTime @updatedAt`, as the app's
 * DDL has them in every table that declares both: TIMESTAMP(3) NOT NULL, a database default for
 * createdAt only. Prisma's client keeps updatedAt, so these hooks do what it does. Only for
 * tables whose two columns are exactly these (../shared/reference): Kiln never changes their shape.
 */
export abstract class TimestampedEntity {
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
