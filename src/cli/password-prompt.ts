import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/** Asks on the terminal without echoing what is typed; from a pipe, reads the first line of stdin. */
export async function readPassword(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    // The first line of a pipe, without waiting for the pipe to close.
    const lines = createInterface({ input: process.stdin, terminal: false });
    try {
      for await (const line of lines) return line;
      return '';
    } finally {
      lines.close();
      process.stdin.pause();
    }
  }
  let muted = false;
  // The question is shown; the keystrokes after it are not.
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = new Promise<string>((resolve) => rl.question(question, resolve));
    muted = true;
    return await answer;
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
