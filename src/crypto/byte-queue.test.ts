import { randomBytes } from 'node:crypto';
import { ByteQueue } from './byte-queue';

describe('ByteQueue', () => {
  it('gives back the bytes in order whatever the piece and take sizes', () => {
    const data = randomBytes(100_000);
    for (const [pieceBytes, takeBytes] of [
      [1, 1],
      [1, 4096],
      [7, 1000],
      [4096, 7],
      [100_000, 333],
      [333, 100_000],
    ]) {
      const queue = new ByteQueue();
      for (let i = 0; i < data.length; i += pieceBytes) queue.push(data.subarray(i, i + pieceBytes));
      expect(queue.length).toBe(data.length);
      expect(queue.peek(10).equals(data.subarray(0, 10))).toBe(true);
      const out: Buffer[] = [];
      while (queue.length > 0) out.push(queue.take(Math.min(takeBytes, queue.length)));
      expect(Buffer.concat(out).equals(data)).toBe(true);
    }
  });

  it('takes slices of at most the slice size, joining small pieces and not copying large ones', () => {
    const data = randomBytes(300_000);
    for (const pieceBytes of [1, 100, 4096, 65_536, 100_000, 300_000]) {
      const queue = new ByteQueue();
      const pieces: Buffer[] = [];
      for (let i = 0; i < data.length; i += pieceBytes) pieces.push(data.subarray(i, i + pieceBytes));
      pieces.forEach((piece) => queue.push(piece));
      const slices = [...queue.takeSlices(250_000, 65_536), ...queue.takeSlices(50_000, 65_536)];
      expect(Buffer.concat(slices).equals(data)).toBe(true);
      expect(Math.max(...slices.map((slice) => slice.length))).toBeLessThanOrEqual(65_536);
      // Small pieces are joined into full slices rather than handed out one by one.
      expect(slices.length).toBeLessThanOrEqual(Math.ceil(300_000 / 65_536) + 2 * Math.ceil(300_000 / pieceBytes));
      const full = slices.filter((slice) => slice.length === 65_536);
      if (pieceBytes >= 65_536) expect(full.length > 0 && full.every((slice) => slice.buffer === data.buffer)).toBe(true);
      if (pieceBytes <= 4096) expect(slices.length).toBeLessThanOrEqual(7);
    }
    expect(new ByteQueue().takeSlices(0)).toEqual([]);
  });

  it('interleaves pushes and takes, ignores empty pieces and refuses to over-take', () => {
    const queue = new ByteQueue();
    queue.push(Buffer.from('ab'));
    queue.push(Buffer.alloc(0));
    queue.push(Buffer.from('cd'));
    expect(queue.take(3).toString()).toBe('abc');
    queue.push(Buffer.from('ef'));
    expect(queue.peek(99).toString()).toBe('def');
    expect(queue.take(0).length).toBe(0);
    expect(() => queue.take(4)).toThrow(RangeError);
    expect(queue.take(3).toString()).toBe('def');
    expect(queue.length).toBe(0);
  });

  it('stays fast with 200,000 one-byte pieces (taking from the front is not linear)', () => {
    const queue = new ByteQueue();
    const started = Date.now();
    const one = Buffer.of(1);
    for (let i = 0; i < 200_000; i++) queue.push(one);
    let sum = 0;
    while (queue.length > 0) sum += queue.take(1000)[999];
    expect(sum).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
