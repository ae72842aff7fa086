import { canonicalZone, cronProblem, nextFireTimes, shortestGapSeconds, zonedIso } from './cron-math';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('cron math', () => {
  it('canonicalises known zones and rejects unknown ones', () => {
    expect(canonicalZone('Africa/Lagos')).toBe('Africa/Lagos');
    expect(canonicalZone('Mars/Olympus')).toBeUndefined();
    expect(canonicalZone('')).toBeUndefined();
  });

  it('accepts 5 and 6 fields only', () => {
    expect(cronProblem('0 2 * * *', 'UTC')).toBeUndefined();
    expect(cronProblem('*/3 * * * * *', 'UTC')).toBeUndefined();
    expect(cronProblem('0 2 * *', 'UTC')).toMatch(/5 fields/);
    expect(cronProblem('0 0 2 * * * *', 'UTC')).toMatch(/got 7/);
    expect(cronProblem('61 2 * * *', 'UTC')).toMatch(/not valid/);
  });

  it('neither skips nor doubles a daily run across the London spring change', () => {
    // 29 March 2026 01:00 UTC: clocks go from 01:00 GMT to 02:00 BST; 01:30 local does not exist.
    expect(iso(nextFireTimes('30 1 * * *', 'Europe/London', new Date('2026-03-27T12:00:00Z'), 3))).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z', // moved to 02:30 BST, not skipped
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('runs a daily 01:30 once on the autumn day with two 01:30s', () => {
    // 25 October 2026 01:00 UTC: clocks go back from 02:00 BST to 01:00 GMT.
    expect(iso(nextFireTimes('30 1 * * *', 'Europe/London', new Date('2026-10-23T12:00:00Z'), 3))).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('formats wall time with the zone offset', () => {
    expect(zonedIso(new Date('2026-03-29T01:30:00Z'), 'Europe/London')).toBe('2026-03-29T02:30:00+01:00');
    expect(zonedIso(new Date('2026-01-10T01:00:00Z'), 'Europe/London')).toBe('2026-01-10T01:00:00+00:00');
    expect(zonedIso(new Date('2026-01-10T01:00:00Z'), 'Africa/Lagos')).toBe('2026-01-10T02:00:00+01:00');
  });

  it('measures the shortest gap between fires', () => {
    expect(shortestGapSeconds('*/3 * * * * *', 'UTC', new Date('2026-01-01T00:00:00Z'))).toBe(3);
    expect(shortestGapSeconds('0,1 2 * * *', 'UTC', new Date('2026-01-01T00:00:00Z'))).toBe(60);
    expect(shortestGapSeconds('0 * * * *', 'Africa/Lagos', new Date('2026-01-01T00:00:00Z'))).toBe(3600);
  });
});
