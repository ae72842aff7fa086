import { Transform } from 'node:stream';

/** A pass-through that reports the bytes seen so far (upload progress). */
export function countBytes(onBytes: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      onBytes(total);
      done(null, chunk);
    },
  });
}
