import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { regroupBytes } from './regroup-bytes';

/** The writes a Writable downstream (the SDK's upload stream) receives. */
async function regroup(input: Buffer[], size: number): Promise<Buffer[]> {
  const writes: Buffer[] = [];
  const sink = new Writable({
    write(piece: Buffer, _encoding, done) {
      writes.push(piece);
      done();
    },
  });
  await pipeline(Readable.from(input), regroupBytes(size), sink);
  return writes;
}

/** `bytes` cut into pieces of the given lengths, in turn. */
function cut(bytes: Buffer, lengths: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(lengths[i % lengths.length], bytes.length - at);
    pieces.push(bytes.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

describe('regroupBytes', () => {
  it.each([
    ['one-byte writes', [1]],
    ['writes smaller than a piece', [7, 300, 64]],
    ['writes of exactly a piece', [1000]],
    ['writes larger than several pieces', [3500, 1]],
  ])('passes every byte on, in order, in pieces of the size asked but the last: %s', async (_name, lengths) => {
    const bytes = randomBytes(10_500);
    const out = await regroup(cut(bytes, lengths), 1000);
    expect(out.map((p) => p.length)).toEqual([...Array<number>(10).fill(1000), 500]);
    expect(Buffer.concat(out).equals(bytes)).toBe(true);
  });

  it('ends on a whole piece without an empty one, and passes nothing on for nothing', async () => {
    expect((await regroup(cut(randomBytes(3000), [64]), 1000)).map((p) => p.length)).toEqual([1000, 1000, 1000]);
    expect(await regroup([], 1000)).toEqual([]);
  });
});
