import { setImmediate as nextTurn } from 'node:timers/promises';
import { EventLoopSlice } from './event-loop-slice';

/** Whether the event loop turned (a setImmediate callback ran) while `pause` was awaited. */
async function turned(pause: () => Promise<void>): Promise<boolean> {
  let ran = false;
  const other = nextTurn().then(() => (ran = true));
  await pause();
  const seen = ran;
  await other;
  return seen;
}

it('lets the event loop turn only once a slice has run its time, and starts a new slice after', async () => {
  let clock = 0;
  const slice = new EventLoopSlice(10, () => clock);
  clock = 9;
  expect(await turned(() => slice.pause())).toBe(false);
  clock = 10;
  expect(await turned(() => slice.pause())).toBe(true);
  clock = 19; // the new slice began at 10
  expect(await turned(() => slice.pause())).toBe(false);
  clock = 20;
  expect(await turned(() => slice.pause())).toBe(true);
});
