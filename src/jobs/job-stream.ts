import { Repeater } from '@graphql-yoga/subscription';
import type { DataSource } from 'typeorm';
import { NotFoundError } from '../errors/kiln-errors';
import type { JobEventBus } from './job-event-bus';
import { Job } from './job.entity';
import { FINISHED_STATUSES, JobStatus } from './job.enums';

/** A job's statuses in the order it can pass through them. */
const STATUS_ORDER: Record<JobStatus, number> = {
  [JobStatus.QUEUED]: 0,
  [JobStatus.RUNNING]: 1,
  [JobStatus.COMPLETED]: 2,
  [JobStatus.FAILED]: 2,
  [JobStatus.CANCELLED]: 2,
};

/**
 * The jobProgress stream: the job's current state first (from the database,
 * the truth), then each change; for one job it ends after its final event.
 */
export function jobProgressStream(dataSource: DataSource, jobEvents: JobEventBus, jobId?: string | null): AsyncIterable<Job> {
  return new Repeater<Job>(async (push, stop) => {
    const events = jobEvents.subscribe()[Symbol.asyncIterator]();
    // Listening before the current state is read: a subscription starts on its first next(), and a
    // job that ended between the read and that call would otherwise never send its end (a client
    // following it, `kiln backup --wait` say, waited for ever).
    const first = events.next();
    void stop.then(() => events.return?.());
    let last: Pick<Job, 'status' | 'percent'> | undefined;
    if (jobId) {
      const current = await dataSource.getRepository(Job).findOneBy({ id: jobId });
      if (!current) return stop(new NotFoundError('Job', jobId));
      await push(current);
      if (FINISHED_STATUSES.has(current.status)) return stop();
      last = current;
    }
    for (let next = await first; !next.done; next = await events.next()) {
      const job = next.value;
      if (jobId && job.id !== jobId) continue;
      if (jobId && last) {
        // A change made before the read may arrive after it: never back to an earlier status, and
        // percent never goes back within a job, even if events cross on the way.
        if (STATUS_ORDER[job.status] < STATUS_ORDER[last.status]) continue;
        if (job.percent < last.percent) job.percent = last.percent;
      }
      last = job;
      await push(job);
      if (jobId && FINISHED_STATUSES.has(job.status)) return stop();
    }
  });
}
