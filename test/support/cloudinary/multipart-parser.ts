/**
 * A streaming multipart/form-data parser, small enough to read: Cloudinary
 * bodies are a few text fields and one file part that can be 100 MB, so the
 * file bytes go straight to a sink (a temp file) and are never held whole.
 */
import { Writable } from 'node:stream';

/** Where a file part's bytes go; `write` resolves when the sink can take more. */
export interface PartSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
  abort(): void;
}

export interface PartHandler {
  field(name: string, value: string): void;
  file(name: string, filename: string): PartSink;
}

/** The body is not multipart as the Content-Type header announced it. */
export class MalformedBodyError extends Error {}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_FIELD_BYTES = 1024 * 1024;

type State = 'preamble' | 'boundary' | 'headers' | 'body' | 'done';

interface OpenPart {
  name: string;
  sink?: PartSink;
  chunks: Buffer[];
  size: number;
}

export class MultipartParser extends Writable {
  private readonly delimiter: Buffer;
  // Starts with CRLF so that the first boundary looks like every later one.
  private buffer: Buffer = CRLF;
  private state: State = 'preamble';
  private part: OpenPart | null = null;

  constructor(
    boundary: string,
    private readonly handler: PartHandler,
  ) {
    super();
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  /** The boundary from a `multipart/form-data; boundary=...` header, if it is one. */
  static boundaryOf(contentType: string | undefined): string | null {
    if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
    const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
    return match ? (match[1] ?? match[2]) : null;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.buffer = this.buffer.length > 0 ? Buffer.concat([this.buffer, chunk]) : chunk;
    this.consume().then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    done(this.state === 'done' ? null : new MalformedBodyError('Unexpected end of multipart body'));
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.part?.sink?.abort();
    done(error);
  }

  private async consume(): Promise<void> {
    for (;;) {
      switch (this.state) {
        case 'preamble':
        case 'body': {
          const at = this.buffer.indexOf(this.delimiter);
          if (at === -1) {
            // Keep a tail that could be the start of a delimiter split across chunks.
            const keep = Math.min(this.buffer.length, this.delimiter.length - 1);
            await this.data(this.buffer.subarray(0, this.buffer.length - keep));
            this.buffer = this.buffer.subarray(this.buffer.length - keep);
            return;
          }
          await this.data(this.buffer.subarray(0, at));
          await this.closePart();
          this.buffer = this.buffer.subarray(at + this.delimiter.length);
          this.state = 'boundary';
          break;
        }
        case 'boundary': {
          if (this.buffer.length < 2) return;
          const next = this.buffer.subarray(0, 2).toString('latin1');
          if (next === '--') {
            this.state = 'done';
            break;
          }
          if (next !== '\r\n') throw new MalformedBodyError('Malformed multipart boundary');
          this.buffer = this.buffer.subarray(2);
          this.state = 'headers';
          break;
        }
        case 'headers': {
          const end = this.buffer.indexOf(HEADER_END);
          if (end === -1) {
            if (this.buffer.length > MAX_HEADER_BYTES) throw new MalformedBodyError('Multipart headers too long');
            return;
          }
          this.openPart(this.buffer.subarray(0, end).toString('utf8'));
          this.buffer = this.buffer.subarray(end + HEADER_END.length);
          this.state = 'body';
          break;
        }
        case 'done':
          this.buffer = Buffer.alloc(0); // the epilogue is ignored
          return;
      }
    }
  }

  private openPart(headers: string): void {
    const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
    const name = /(?:^|;)\s*name="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) throw new MalformedBodyError('Multipart part without a name');
    const filename = /(?:^|;)\s*filename="([^"]*)"/i.exec(disposition)?.[1];
    this.part = { name, chunks: [], size: 0 };
    if (filename !== undefined) this.part.sink = this.handler.file(name, filename);
  }

  private async data(bytes: Buffer): Promise<void> {
    const part = this.part;
    if (!part || bytes.length === 0) return; // preamble bytes are ignored
    if (part.sink) {
      await part.sink.write(bytes);
      return;
    }
    part.size += bytes.length;
    if (part.size > MAX_FIELD_BYTES) throw new MalformedBodyError(`Field ${part.name} too long`);
    part.chunks.push(Buffer.from(bytes)); // copy: a view would pin the whole network chunk
  }

  private async closePart(): Promise<void> {
    const part = this.part;
    this.part = null;
    if (!part) return;
    if (part.sink) await part.sink.end();
    else this.handler.field(part.name, Buffer.concat(part.chunks).toString('utf8'));
  }
}
