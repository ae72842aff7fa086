import { canonicalZone, cronProblem, forgetPreviousFires, nextFireTimes, previousFireTimes, shortestGapSeconds, utcOffsetMinutes, zonedIso } from './cron-math';

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

  // Expected instants reckoned by hand from each zone's 2026 transitions.
  it('runs DAILY 02:00 once a day across New York’s changes (8 March, 1 November)', () => {
    // 8 March: 02:00 EST does not exist (clocks jump to 03:00 EDT): the run comes at 03:00 EDT.
    expect(iso(nextFireTimes('0 2 * * *', 'America/New_York', new Date('2026-03-06T12:00:00Z'), 3))).toEqual([
      '2026-03-07T07:00:00.000Z', // 02:00 EST
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-09T06:00:00.000Z', // 02:00 EDT
    ]);
    expect(iso(nextFireTimes('0 2 * * *', 'America/New_York', new Date('2026-10-30T12:00:00Z'), 3))).toEqual([
      '2026-10-31T06:00:00.000Z', // 02:00 EDT
      '2026-11-01T07:00:00.000Z', // 02:00 EST, after 01:00–01:59 happened twice
      '2026-11-02T07:00:00.000Z',
    ]);
    // HOURLY through the repeated hour: every real hour once.
    expect(iso(nextFireTimes('0 * * * *', 'America/New_York', new Date('2026-11-01T04:00:00Z'), 3))).toEqual([
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T06:00:00.000Z', // 01:00 EST
      '2026-11-01T07:00:00.000Z', // 02:00 EST
    ]);
  });

  it('runs DAILY 02:00 once a day across Sydney’s changes (5 April, 4 October)', () => {
    // 5 April: 03:00 AEDT falls back to 02:00 AEST, so 02:00 happens twice: one run, at the first.
    expect(iso(nextFireTimes('0 2 * * *', 'Australia/Sydney', new Date('2026-04-03T00:00:00Z'), 3))).toEqual([
      '2026-04-03T15:00:00.000Z', // 02:00 AEDT
      '2026-04-04T15:00:00.000Z', // 02:00 AEDT, the first of two
      '2026-04-05T16:00:00.000Z', // 02:00 AEST
    ]);
    // 4 October: 02:00 AEST jumps to 03:00 AEDT: the run comes at 03:00 AEDT.
    expect(iso(nextFireTimes('0 2 * * *', 'Australia/Sydney', new Date('2026-10-02T00:00:00Z'), 3))).toEqual([
      '2026-10-02T16:00:00.000Z', // 02:00 AEST
      '2026-10-03T16:00:00.000Z', // 03:00 AEDT
      '2026-10-04T15:00:00.000Z', // 02:00 AEDT
    ]);
  });

  it('lists previous fires newest first, counting one exactly at the given instant', () => {
    expect(iso(previousFireTimes('0 2 * * *', 'Africa/Lagos', new Date('2026-01-10T01:00:00Z'), 2))).toEqual([
      '2026-01-10T01:00:00.000Z',
      '2026-01-09T01:00:00.000Z',
    ]);
    expect(iso(previousFireTimes('0 2 * * *', 'Europe/London', new Date('2026-03-30T00:00:00Z'), 2))).toEqual([
      '2026-03-29T01:00:00.000Z', // 02:00 BST
      '2026-03-28T02:00:00.000Z', // 02:00 GMT
    ]);
  });

  it('finds as previous fires exactly the fires stepping forward makes: across DST changes, sparse and per-second crons', () => {
    // From two fires before a change of the clocks to two after it (or, without one, four fires).
    const cases: Array<[cron: string, zone: string, from: string]> = [
      ['0 2 * * *', 'Europe/London', '2026-03-27T00:00:00Z'], // 29 March: 02:00 does not exist
      ['0 1 * * *', 'Europe/London', '2026-10-23T00:00:00Z'], // 25 October: 01:00 happens twice
      ['30 2 * * *', 'Australia/Sydney', '2026-04-03T00:00:00Z'], // 5 April: 02:30 happens twice
      ['0 * * * *', 'America/New_York', '2026-11-01T04:30:00Z'], // 1 November: 01:00 happens twice
      ['0 4 1 1,4,7,10 *', 'Africa/Lagos', '2025-12-01T00:00:00Z'],
      ['0 0 29 2 *', 'UTC', '2019-06-01T00:00:00Z'], // every 4 years
      ['*/7 * * * * *', 'UTC', '2026-01-01T00:00:50Z'],
      ['0-2 3 * * *', 'UTC', '2026-01-01T00:01:30Z'], // bursts of three a minute apart
    ];
    for (const [cron, zone, from] of cases) {
      const fires = nextFireTimes(cron, zone, new Date(from), 4);
      expect(fires).toHaveLength(4);
      for (let i = 2; i < 4; i++) {
        const fire = fires[i].getTime();
        const label = `${cron} ${zone} at fire ${i}`;
        expect([label, iso(previousFireTimes(cron, zone, new Date(fire), 3))]).toEqual([label, iso([fires[i], fires[i - 1], fires[i - 2]])]);
        // Kept from the call before, until the next fire.
        expect([label, iso(previousFireTimes(cron, zone, new Date(fire + 1), 3))]).toEqual([label, iso([fires[i], fires[i - 1], fires[i - 2]])]);
        expect([label, iso(previousFireTimes(cron, zone, new Date(fire - 1), 2))]).toEqual([label, iso([fires[i - 1], fires[i - 2]])]);
      }
    }
  });

  it('finds the previous fires from any instant around a change of the clocks, with nothing kept from an earlier call', () => {
    // From inside the second pass of a repeated wall time, next() names that pass's fires, which the chain skips.
    // [cron, zone, from, to, fires from two days before `from` past `to`]; sampled every 15 minutes.
    const cases: Array<[cron: string, zone: string, from: string, to: string, fires: number]> = [
      ['30 2 * * *', 'Australia/Sydney', '2027-04-03T14:00:00Z', '2027-04-03T19:00:00Z', 4], // 4 April 2027: 02:30 twice
      ['30 1 * * *', 'America/New_York', '2026-11-01T04:00:00Z', '2026-11-01T09:00:00Z', 4],
      ['30 1 * * *', 'Europe/London', '2026-10-24T23:00:00Z', '2026-10-25T04:00:00Z', 4],
      ['*/20 1 * * *', 'America/New_York', '2026-11-01T04:30:00Z', '2026-11-01T07:30:00Z', 12], // a burst through the repeated hour
      ['30 2 * * *', 'Europe/London', '2026-03-29T00:00:00Z', '2026-03-29T04:00:00Z', 4], // 02:30 does not exist
    ];
    for (const [cron, zone, from, to, fires] of cases) {
      // The chain of fires node-schedule makes, started two days before (clear of any change of the clocks).
      const chain = nextFireTimes(cron, zone, new Date(Date.parse(from) - 2 * 86_400_000), fires);
      expect(chain[chain.length - 1].getTime()).toBeGreaterThan(Date.parse(to));
      for (let t = Date.parse(from), k = 0; t <= Date.parse(to); t += 15 * 60_000, k++) {
        const count = 1 + (k % 2);
        forgetPreviousFires();
        const expected = chain.filter((fire) => fire.getTime() <= t).slice(-count).reverse();
        const label = `${cron} ${zone} at ${new Date(t).toISOString()}, ${count}`;
        expect([label, iso(previousFireTimes(cron, zone, new Date(t), count))]).toEqual([label, iso(expected)]);
      }
    }
  });

  it('reads the zone offset at an instant', () => {
    expect(utcOffsetMinutes(new Date('2027-04-03T16:00:00Z'), 'Australia/Sydney')).toBe(600); // AEST, after the change
    expect(utcOffsetMinutes(new Date('2027-04-03T15:00:00Z'), 'Australia/Sydney')).toBe(660);
    expect(utcOffsetMinutes(new Date('2026-07-01T00:00:00Z'), 'America/New_York')).toBe(-240);
    expect(utcOffsetMinutes(new Date('2026-07-01T00:00:00Z'), 'Asia/Kolkata')).toBe(330);
    expect(utcOffsetMinutes(new Date('2026-07-01T00:00:00Z'), 'UTC')).toBe(0);
  });

  it('looks back 16 years at most: a 29 February cron lists the four since 2010, not the nine asked', () => {
    expect(iso(previousFireTimes('0 2 29 2 *', 'UTC', new Date('2026-01-01T00:00:00Z'), 9))).toEqual([
      '2024-02-29T02:00:00.000Z',
      '2020-02-29T02:00:00.000Z',
      '2016-02-29T02:00:00.000Z',
      '2012-02-29T02:00:00.000Z',
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
