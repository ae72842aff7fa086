import { In, IsNull, Not, type DataSource } from 'typeorm';
import { Job } from './job.entity';
import { JobStatus } from './job.enums';

/**
 * Reads of `kiln_jobs` that other modules need, so none of them queries the table itself.
 * (The runner, in job-runner.ts, owns the writes.)
 */
export class JobStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Backups a queued or running job reads or writes (kiln_jobs.backupId): nothing may delete them under it. */
  async backupIdsInUse(): Promise<Set<string>> {
    const jobs = await this.dataSource.getRepository(Job).find({
      select: { backupId: true },
      where: { status: In([JobStatus.QUEUED, JobStatus.RUNNING]), backupId: Not(IsNull()) },
    });
    return new Set(jobs.map((j) => j.backupId!));
  }
}
