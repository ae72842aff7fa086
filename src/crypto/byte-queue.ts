/**
 * A FIFO of bytes received in arbitrary pieces, taken out in exact sizes. Pieces are kept as
 * they came and copied only when a take spans several of them, so cutting 1 MiB chunks out
 * of one large write costs no copies and cutting them out of small writes costs one.
 */
export class ByteQueue {
  private pieces: Buffer[] = [];
  private bytes = 0;

  get length(): number {
    return this.bytes;
  }

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.bytes += piece.length;
  }

  /** Removes and returns the first `n` bytes; throws if fewer are queued. */
  take(n: number): Buffer {
    if (n > this.bytes) throw new RangeError(`cannot take ${n} bytes from a queue of ${this.bytes}`);
    this.bytes -= n;
    const first = this.pieces[0];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length >= n) {
      if (first.length === n) this.pieces.shift();
      else this.pieces[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const piece = this.pieces[0];
      const wanted = n - filled;
      if (piece.length <= wanted) {
        piece.copy(out, filled);
        filled += piece.length;
        this.pieces.shift();
      } else {
        piece.copy(out, filled, 0, wanted);
        this.pieces[0] = piece.subarray(wanted);
        filled += wanted;
      }
    }
    return out;
  }

  /** A copy of up to the first `n` bytes, leaving the queue as it is. */
  peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(Math.min(n, this.bytes));
    let filled = 0;
    for (const piece of this.pieces) {
      if (filled === out.length) break;
      filled += piece.copy(out, filled, 0, Math.min(piece.length, out.length - filled));
    }
    return out;
  }
}
