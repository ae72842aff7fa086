import { Field, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { DateTimeISOResolver } from 'graphql-scalars';

/** Whether the lending app is in maintenance; one row, shared by every instance. */
@ObjectType('MaintenanceState')
@Entity({ name: 'kiln_maintenance' })
export class MaintenanceState {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Field()
  @Column({ type: 'boolean', default: false })
  enabled: boolean;

  @Field(() => String, { nullable: true })
  @Column({ type: 'text', nullable: true })
  reason: string | null;

  @Field(() => DateTimeISOResolver, { nullable: true })
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  since: Date | null;

  @Column({ type: 'text', nullable: true })
  enabledById: string | null;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  updatedAt: Date;
}
