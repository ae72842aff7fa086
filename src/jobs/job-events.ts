import { createPubSub } from '@graphql-yoga/subscription';
import type { Job } from './job.entity';

export const JOB_CHANGED = 'JOB_CHANGED';

/** In-process job change events; JobEventBus adds Redis for several instances. */
export type JobPubSub = ReturnType<typeof createJobPubSub>;

export function createJobPubSub(eventTarget?: EventTarget) {
  return createPubSub<{ [JOB_CHANGED]: [Job] }>(eventTarget ? { eventTarget } : undefined);
}
