import { Repeater } from '@graphql-yoga/subscription';
import type { DataSource } from 'typeorm';
import { NotFoundError } from '../errors/kiln-errors';
import type { JobEventBus } from './job-event-bus';
import { Job } from './job.entity';
import { FINISHED_STATUSES } from './job.enums';

/**
 * The jobProgress stream: the job's current state first (from the database,
 * the truth), then each change; for one job it ends after its final event.
 */
export function jobProgressStream(dataSource: DataSource, jobEvents: JobEventBus, jobId?: string | null): AsyncIterable<Job> {
  return new Repeater<Job>(async (push, stop) => {
    const events = jobEvents.subscribe()[Symbol.asyncIterator]();
    void stop.then(() => events.return?.());
    if (jobId) {
      const current = await dataSource.getRepository(Job).findOneBy({ id: jobId });
      if (!current) return stop(new NotFoundError('Job', jobId));
      await push(current);
      if (FINISHED_STATUSES.has(current.status)) return stop();
    }
    let lastPercent = -1;
    for (let next = await events.next(); !next.done; next = await events.next()) {
      const job = next.value;
      if (jobId && job.id !== jobId) continue;
      // Percent never goes back within a job, even if events cross on the way.
      if (jobId && job.percent < lastPercent) job.percent = lastPercent;
      lastPercent = job.percent;
      await push(job);
      if (jobId && FINISHED_STATUSES.has(job.status)) return stop();
    }
  });
}
