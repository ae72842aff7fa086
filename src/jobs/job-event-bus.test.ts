import { createLogger } from '../logging/logger';
import { JobEventBus } from './job-event-bus';
import type { Job } from './job.entity';

describe('job event bus subscribers', () => {
  it('a subscriber that stops reading loses its oldest events, never the process', async () => {
    const bus = new JobEventBus('test', createLogger('silent'));
    const events = bus.subscribe()[Symbol.asyncIterator]();
    const first = events.next(); // starts listening
    bus.publish({ id: 'job', percent: 0 } as Job);
    expect((await first).value.percent).toBe(0);
    // Far more than a repeater holds unbuffered (1024) while nobody reads.
    for (let i = 1; i <= 5000; i++) bus.publish({ id: 'job', percent: i } as Job);
    expect((await events.next()).value.percent).toBe(5000 - 256 + 1);
    await events.return?.();
    await bus.close();
  });
});
