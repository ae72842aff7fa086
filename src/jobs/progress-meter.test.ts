import { MAX_EVENT_INTERVAL_MS, MIN_EVENT_INTERVAL_MS, ProgressMeter, type ProgressSnapshot } from './progress-meter';

describe('ProgressMeter', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  function meter() {
    const events: Array<{ at: number; snapshot: ProgressSnapshot }> = [];
    const m = new ProgressMeter((snapshot) => events.push({ at: Date.now(), snapshot }));
    m.start();
    return { m, events };
  }

  it('emits at most ten times a second however often it is updated', () => {
    const { m, events } = meter();
    m.update({ rowsTotal: 100_000 });
    for (let i = 1; i <= 10_000; i++) {
      m.update({ rowsDone: i });
      if (i % 10 === 0) jest.advanceTimersByTime(1); // 10,000 updates over one second
    }
    expect(events.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < events.length; i++) expect(events[i].at - events[i - 1].at).toBeGreaterThanOrEqual(MIN_EVENT_INTERVAL_MS);
    m.stop();
  });

  it('emits at least once a second while nothing changes', () => {
    const { m, events } = meter();
    m.update({ phase: 'export' });
    jest.advanceTimersByTime(5000);
    expect(events.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < events.length; i++) expect(events[i].at - events[i - 1].at).toBeLessThanOrEqual(MAX_EVENT_INTERVAL_MS);
    m.stop();
  });

  it('never lets percent go back, stays below 100 until complete, and estimates an ETA', () => {
    const { m, events } = meter();
    m.update({ rowsTotal: 1000, rowsDone: 0 });
    jest.advanceTimersByTime(1000);
    m.update({ rowsDone: 500 });
    expect(m.snapshot.percent).toBe(50);
    expect(m.snapshot.etaSeconds).toBe(1);
    m.update({ rowsTotal: 4000 }); // a better estimate arrives: the raw ratio drops to 12.5 %
    expect(m.snapshot.percent).toBe(50);
    m.update({ rowsDone: 9000 }); // the estimate was low
    expect(m.snapshot.percent).toBe(99);
    expect(m.complete().percent).toBe(100);
    const percents = events.map((e) => e.snapshot.percent);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
  });
});
