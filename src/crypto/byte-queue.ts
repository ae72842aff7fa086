const EMPTY = Buffer.alloc(0);

/**
 * A FIFO of bytes received in arbitrary pieces, taken out in exact sizes. Pieces are kept as
 * they came; `takeSlices` hands them out in slices of at most 64 KiB, copying only to join
 * small pieces, so cutting a 1 MiB chunk never allocates a 1 MiB buffer. (Fresh buffers above
 * glibc's mmap threshold cost page faults: a 1 MiB cipher.update runs at a third of the speed
 * of sixteen 64 KiB ones.)
 */
export class ByteQueue {
  private pieces: Buffer[] = [];
  // Index of the first live piece: Array#shift is linear, and tiny writes make long arrays.
  private head = 0;
  private bytes = 0;

  get length(): number {
    return this.bytes;
  }

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.bytes += piece.length;
  }

  /** Removes and returns the first `n` bytes as one buffer; throws if fewer are queued. */
  take(n: number): Buffer {
    const views = this.takeViews(n);
    return views.length === 1 ? views[0] : Buffer.concat(views, n);
  }

  /**
   * Removes the first `n` bytes as slices of at most `sliceBytes` each: views of the pieces
   * they were in where those are large, small pieces joined up to that size. Throws if fewer
   * are queued.
   */
  takeSlices(n: number, sliceBytes = 64 * 1024): Buffer[] {
    const slices: Buffer[] = [];
    let run: Buffer[] = [];
    let runBytes = 0;
    const endRun = () => {
      if (runBytes > 0) slices.push(run.length === 1 ? run[0] : Buffer.concat(run, runBytes));
      run = [];
      runBytes = 0;
    };
    for (const view of this.takeViews(n)) {
      for (let offset = 0; offset < view.length; offset += sliceBytes) {
        const part = view.subarray(offset, offset + sliceBytes);
        if (runBytes + part.length > sliceBytes) endRun();
        run.push(part);
        runBytes += part.length;
      }
    }
    endRun();
    return slices;
  }

  /** Removes the first `n` bytes as views of the pieces they were in; throws if fewer are queued. */
  private takeViews(n: number): Buffer[] {
    if (n > this.bytes) throw new RangeError(`cannot take ${n} bytes from a queue of ${this.bytes}`);
    this.bytes -= n;
    const views: Buffer[] = [];
    let wanted = n;
    while (wanted > 0) {
      const piece = this.pieces[this.head];
      if (piece.length <= wanted) {
        views.push(piece);
        wanted -= piece.length;
        this.dropFirst();
      } else {
        views.push(piece.subarray(0, wanted));
        this.pieces[this.head] = piece.subarray(wanted);
        wanted = 0;
      }
    }
    return views;
  }

  /** A copy of up to the first `n` bytes, leaving the queue as it is. */
  peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(Math.min(n, this.bytes));
    let filled = 0;
    for (let i = this.head; i < this.pieces.length && filled < out.length; i++) {
      const piece = this.pieces[i];
      filled += piece.copy(out, filled, 0, Math.min(piece.length, out.length - filled));
    }
    return out;
  }

  private dropFirst(): void {
    // Let go of the piece now, not at the next compaction: that could be 1024 pieces later.
    this.pieces[this.head] = EMPTY;
    this.head++;
    if (this.head === this.pieces.length) {
      this.pieces = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.pieces.length) {
      this.pieces = this.pieces.slice(this.head);
      this.head = 0;
    }
  }
}
