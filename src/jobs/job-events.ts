import { createPubSub } from '@graphql-yoga/subscription';
import type { Job } from './job.entity';

export const JOB_CHANGED = 'JOB_CHANGED';

/** Job change events for subscriptions (in-process; issue #6 adds Redis for several instances). */
export type JobPubSub = ReturnType<typeof createJobPubSub>;

export function createJobPubSub() {
  return createPubSub<{ [JOB_CHANGED]: [Job] }>();
}
