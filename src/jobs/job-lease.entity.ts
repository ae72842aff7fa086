import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A named lease held by one instance until expiresAt; renewed while its job runs. */
@Entity({ name: 'kiln_leases' })
export class JobLease {
  @PrimaryColumn({ type: 'text' })
  name: string;

  @Column({ type: 'text' })
  holder: string;

  @Column({ type: 'text', nullable: true })
  jobId: string | null;

  @Column({ type: 'timestamp', precision: 3 })
  expiresAt: Date;
}
