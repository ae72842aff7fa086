/**
 * Reads one request's parameters (query string, then multipart, urlencoded or
 * JSON body) and streams its file part, if any, to a temp file while counting
 * bytes: that count is where the per-request size limit and the injected
 * "reset after N bytes" act.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { MalformedBodyError, MultipartParser, type PartSink } from './multipart-parser';
import type { ParamValue } from './cloudinary-signature';

export interface ReceivedFile {
  path: string;
  bytes: number;
  md5: string;
  filename: string;
}

export interface ReceivedBody {
  params: Record<string, ParamValue>;
  file?: ReceivedFile;
  /** Bytes of the whole request body. */
  bytes: number;
}

export interface ReadBodyOptions {
  maxBytes: number;
  /** Destroy the socket once this many body bytes have arrived (an injected fault). */
  resetAfterBytes?: number;
  /** A fresh path for the file part. */
  tempPath: () => string;
  /** Told the body bytes read so far. */
  progress?: (bytes: number) => void;
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`Request body larger than ${limit} bytes`);
  }
}
export class InjectedResetError extends Error {}
export class ClientAbortedError extends Error {}
export { MalformedBodyError };

/** Text bodies (urlencoded, JSON) are small: Admin API and destroy calls. */
const MAX_TEXT_BODY = 1024 * 1024;

class FileSink implements PartSink {
  private readonly out;
  private readonly hash = createHash('md5');
  bytes = 0;

  constructor(readonly path: string) {
    this.out = createWriteStream(path);
    this.out.on('error', () => undefined); // surfaced by write/end
  }

  async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }

  async end(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }

  abort(): void {
    this.out.destroy();
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

function addParam(params: Record<string, ParamValue>, name: string, value: string): void {
  if (name.endsWith('[]')) {
    const key = name.slice(0, -2);
    const list = params[key];
    params[key] = Array.isArray(list) ? [...list, value] : [value];
  } else {
    params[name] = value;
  }
}

export function queryParams(search: URLSearchParams): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = {};
  for (const [name, value] of search) addParam(params, name, value);
  return params;
}

/** Resolves once the whole body is read; rejects (and removes any temp file) otherwise. */
export function readBody(req: IncomingMessage, query: URLSearchParams, options: ReadBodyOptions): Promise<ReceivedBody> {
  const params = queryParams(query);
  const boundary = MultipartParser.boundaryOf(req.headers['content-type']);
  let sink: FileSink | undefined;
  let filename = '';
  let text: Buffer[] = [];
  let bytes = 0;

  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      options.progress?.(bytes);
      if (bytes > options.maxBytes) return done(new BodyTooLargeError(options.maxBytes));
      if (options.resetAfterBytes !== undefined && bytes >= options.resetAfterBytes) {
        return done(new InjectedResetError('reset injected'));
      }
      if (!boundary) {
        if (bytes > MAX_TEXT_BODY) return done(new BodyTooLargeError(MAX_TEXT_BODY));
        text.push(chunk);
        return done();
      }
      done(null, chunk);
    },
  });

  const sinkStage = boundary
    ? new MultipartParser(boundary, {
        field: (name, value) => addParam(params, name, value),
        file: (name, partFilename) => {
          if (name !== 'file' || sink) throw new MalformedBodyError(`Unexpected file part ${name}`);
          filename = partFilename;
          sink = new FileSink(options.tempPath());
          return sink;
        },
      })
    : null;

  return new Promise<ReceivedBody>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      req.unpipe(counter);
      counter.destroy();
      sinkStage?.destroy();
      if (sink) void rm(sink.path, { force: true });
      reject(error);
    };
    const succeed = (): void => {
      if (settled) return;
      settled = true;
      try {
        if (!boundary) parseText(req.headers['content-type'], Buffer.concat(text), params);
      } catch (error) {
        reject(error as Error);
        return;
      }
      text = [];
      const file = sink ? { path: sink.path, bytes: sink.bytes, md5: sink.digest(), filename } : undefined;
      resolve({ params, file, bytes });
    };

    req.on('error', fail);
    req.on('close', () => {
      if (!req.complete) fail(new ClientAbortedError('client went away mid-request'));
    });
    counter.on('error', fail);
    if (sinkStage) {
      sinkStage.on('error', fail);
      sinkStage.on('finish', succeed);
      req.pipe(counter).pipe(sinkStage);
    } else {
      counter.on('finish', succeed);
      req.pipe(counter);
      counter.resume();
    }
  });
}

function parseText(contentType: string | undefined, body: Buffer, params: Record<string, ParamValue>): void {
  if (body.length === 0) return;
  if (/^application\/json/i.test(contentType ?? '')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new MalformedBodyError('Invalid JSON body');
    }
    if (typeof parsed !== 'object' || parsed === null) throw new MalformedBodyError('Invalid JSON body');
    for (const [name, value] of Object.entries(parsed)) {
      params[name] = Array.isArray(value) ? value.map(String) : String(value);
    }
    return;
  }
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) addParam(params, name, value);
}
