/**
 * A local stand-in for the part of Cloudinary's API Kiln uses, so that no test
 * reaches the internet: raw uploads (single and chunked), destroy, the private
 * download endpoint, and Admin API resource lookups. It checks api_key,
 * timestamp, signature and expires_at as Cloudinary does, refuses the rest the
 * way Cloudinary does, and takes injected faults (`faults`).
 *
 * Pointing the real SDK (cloudinary 2.x) at it — what Kiln's driver must do:
 *
 * - The SDK picks `http` or `https` once, when lib/uploader.js and
 *   lib/api_client/execute_request.js are first required, from the
 *   `upload_prefix` in CLOUDINARY_URL at that moment. A later
 *   `config({ upload_prefix: 'http://…' })` or a per-call `upload_prefix`
 *   alone then fails: `Protocol "http:" not supported. Expected "https:"`.
 * - Works whatever the require order (the clean way): pass per call
 *   `upload_prefix` and an `agent` of the prefix's protocol —
 *   `new http.Agent()` for http:, `new https.Agent()` for https: (Node accepts
 *   either protocol in either module's request() when the agent matches it).
 *   Uploads, chunked uploads, destroy and the Admin API all honour `agent`.
 *   Always passing one also covers the reverse trap: an SDK loaded with an
 *   http: prefix in CLOUDINARY_URL refuses https: ("Expected http:").
 *   `sdkOptions()` below returns these options plus the credentials.
 * - Also works: CLOUDINARY_URL=`cloudinaryUrl` (below) set in process.env
 *   before anything requires 'cloudinary' (a fresh module registry: in jest,
 *   each test file has one, or use jest.isolateModules).
 * - Pass cloud_name, api_key and api_secret per call too (rather than a global
 *   `config()`); `utils.private_download_url` reads them, and `upload_prefix`,
 *   from its options.
 *
 * Other SDK behaviour Kiln's driver has to handle (checked in
 * test/cloudinary-server.test.ts):
 * - `upload_chunked_stream(options, cb)` exists and works; `upload_large_stream`
 *   is in the typings only. Chunks are signed one by one; all but the last
 *   carry `Content-Range: bytes a-b/-1`. Use chunk_size ≥ 5 MiB (5242880).
 * - After an upload error the SDK stops reading its input but never destroys
 *   it: the source stream stalls (a `pipeline(source, sdkStream)` never
 *   settles and keeps the file open). Destroy the source on error.
 * - `timeout` (ms, default 60000) works for uploads and destroy (error
 *   `{ message: 'Request Timeout', http_code: 499, name: 'TimeoutError' }`),
 *   but the Admin API ignores it: `api.resource()` against a server that does
 *   not answer never settles. Wrap Admin API calls in a timeout of your own.
 * - Rejections are not one shape. Uploader (upload, destroy): an HTTP error
 *   rejects with `{ message, http_code, name }`, a network error or timeout
 *   with `{ error: <that object, or the Node error> }`; callbacks always get
 *   the inner one. Admin API: an HTTP error rejects with `{ error: { message,
 *   http_code }, request_options, query_params }`, a network error with the
 *   Node error itself (code ECONNRESET…). Normalise with `e.error ?? e`.
 * - The uploader parses JSON only for 200/400/401/404/420/429/500 (the Admin
 *   API also 403/409); any other status (413, 502, 503…) comes back as
 *   "Server returned unexpected status code - N" with http_code N.
 *
 * Where the fake had to choose (Cloudinary documents no exact answer):
 * an expired download link is 401 "Expired link - …"; a body over
 * maxRequestBytes is 413 (its rest is read and dropped so the SDK sees the
 * answer); chunks but the last must be ≥ 5 MiB (Cloudinary says "5 MB": the
 * stricter reading); a non-final chunk is answered `{ done: false, bytes,
 * public_id, resource_type }` (Cloudinary's NonFinalChunkUploadResponse); a
 * public_id holds one delivery type at a time (uploading it with another type
 * replaces it). Other messages are Cloudinary's own wording.
 */
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { CloudinaryError, type Account } from './cloudinary-responses';
import { route } from './cloudinary-routes';
import type { SignatureAlgorithm } from './cloudinary-signature';
import { takeFault, type Fault } from './fault-injector';
import { ObjectStore, type StoredObject } from './object-store';
import type { AuthSettings } from './request-auth';
import {
  BodyTooLargeError,
  ClientAbortedError,
  InjectedResetError,
  MalformedBodyError,
  readBody,
  type ReceivedBody,
} from './request-body';
import { handleDestroy, handleDownload, handleResource } from './resource-handlers';
import type { Exchange, RecordedRequest, Reply, Route, ServerContext } from './server-context';
import { handleUpload } from './upload-handler';

export type { Fault, FaultKind, RequestInfo } from './fault-injector';
export type { StoredObject } from './object-store';
export type { RecordedRequest } from './server-context';

export interface CloudinaryServerOptions {
  cloudName?: string;
  apiKey?: string;
  apiSecret?: string;
  /** Smallest chunk but the last of a chunked upload (default 5 MiB). */
  minChunkBytes?: number;
  /** Largest request body (default 100 MiB): above it, 413. */
  maxRequestBytes?: number;
  /** The account's signature algorithm (default sha1). */
  signatureAlgorithm?: SignatureAlgorithm;
}

/** The options to pass on every SDK call so that it reaches this server. */
export interface SdkCallOptions {
  cloud_name: string;
  api_key: string;
  api_secret: string;
  upload_prefix: string;
  agent: Agent;
}

export const DEFAULT_MIN_CHUNK_BYTES = 5 * 1024 * 1024;
export const DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024;
const DEFAULT_RESET_AFTER_BYTES = 64 * 1024;
const DEFAULT_SLOW_MS = 2000;

function headerSafe(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 500);
}

export class FakeCloudinary {
  /** http://127.0.0.1:PORT — the SDK's upload_prefix. */
  readonly url: string;
  readonly cloudName: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  /** cloudinary://key:secret@cloud?upload_prefix=http://127.0.0.1:PORT */
  readonly cloudinaryUrl: string;
  /** Queue of faults to inject; see fault-injector.ts. */
  readonly faults: Fault[] = [];
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** Added to the real clock when checking timestamps and expires_at (e.g. 1000 to expire a 900 s link). */
  clockOffsetSeconds = 0;

  private readonly agent = new Agent();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly context: ServerContext;

  constructor(
    private readonly server: Server,
    private readonly store: ObjectStore,
    options: Required<CloudinaryServerOptions>,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.cloudName = options.cloudName;
    this.apiKey = options.apiKey;
    this.apiSecret = options.apiSecret;
    this.cloudinaryUrl =
      `cloudinary://${encodeURIComponent(this.apiKey)}:${encodeURIComponent(this.apiSecret)}` +
      `@${this.cloudName}?upload_prefix=${this.url}`;
    const account: Account = { baseUrl: this.url, cloudName: this.cloudName, apiKey: this.apiKey, apiSecret: this.apiSecret };
    const auth: AuthSettings = { ...account, signatureAlgorithm: options.signatureAlgorithm, now: () => this.now() };
    this.context = {
      account,
      auth,
      store,
      minChunkBytes: options.minChunkBytes,
      readBody: (ex) => this.readBody(ex, options.maxRequestBytes),
      send: (ex, status, body) => this.send(ex, status, body),
      delay: (ex) => this.delay(ex),
    };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch(() => res.destroy());
    });
  }

  /** Stored assets by public_id. */
  get objects(): ReadonlyMap<string, StoredObject> {
    return this.store.objects;
  }

  /** The fake's clock in Unix seconds. */
  now(): number {
    return Math.floor(Date.now() / 1000) + this.clockOffsetSeconds;
  }

  sdkOptions(): SdkCallOptions {
    return {
      cloud_name: this.cloudName,
      api_key: this.apiKey,
      api_secret: this.apiSecret,
      upload_prefix: this.url,
      agent: this.agent,
    };
  }

  async readObject(publicId: string): Promise<Buffer> {
    const object = this.store.objects.get(publicId);
    if (!object) throw new Error(`No object ${publicId} on the fake Cloudinary`);
    return readFile(object.path);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections(); // requests held by 'timeout' faults too
    await closed;
    this.agent.destroy();
    await this.store.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    let found: Route | null;
    try {
      found = route(req.method ?? 'GET', url.pathname);
    } catch {
      found = null; // a malformed %-escape in the path
    }
    const contentRange = req.headers['content-range'];
    const uploadId = req.headers['x-unique-upload-id'];
    const record: RecordedRequest = {
      seq: this.requests.length + 1,
      endpoint: found?.endpoint ?? 'unknown',
      method: req.method ?? 'GET',
      path: url.pathname,
      contentRange,
      chunkStart: contentRange ? Number(/^bytes (\d+)-/.exec(contentRange)?.[1]) : undefined,
      uploadId: typeof uploadId === 'string' ? uploadId : undefined,
      bytesIn: 0,
      outcome: 'pending',
    };
    this.requests.push(record);
    const reply: Reply = { req, res, url, record };
    try {
      if (!found) {
        await this.drain(reply);
        throw new CloudinaryError(404, `Not found - ${req.method} ${url.pathname}`);
      }
      const fault = takeFault(this.faults, { ...record, endpoint: found.endpoint });
      const ex: Exchange = { ...reply, route: found, fault };
      reply.fault = fault;
      record.fault = fault?.kind;
      if (await this.injectEarly(ex)) return;
      switch (found.endpoint) {
        case 'upload':
          return await handleUpload(this.context, ex);
        case 'destroy':
          return await handleDestroy(this.context, ex);
        case 'download':
          return await handleDownload(this.context, ex);
        case 'resource':
          return await handleResource(this.context, ex);
      }
    } catch (error) {
      await this.fail(reply, error);
    }
  }

  /** Faults that replace the handler altogether. True when the request is dealt with. */
  private async injectEarly(ex: Exchange): Promise<boolean> {
    switch (ex.fault?.kind) {
      case '500':
        await this.drain(ex);
        await this.send(ex, ex.fault.status ?? 500, { error: { message: 'Internal Server Error' } });
        return true;
      case 'timeout':
        await this.drain(ex);
        ex.record.outcome = 'timeout'; // never answered; close() drops the connection
        return true;
      case 'reset':
        if (ex.route.endpoint !== 'resource') return false; // body and download resets happen mid-stream
        ex.req.socket.destroy();
        ex.record.outcome = 'reset';
        return true;
      default:
        return false;
    }
  }

  private async fail(ex: Reply, error: unknown): Promise<void> {
    if (error instanceof InjectedResetError) {
      ex.req.socket.destroy();
      ex.record.outcome = 'reset';
    } else if (error instanceof ClientAbortedError) {
      ex.record.outcome = 'aborted';
    } else if (error instanceof BodyTooLargeError) {
      // The rest of the body is read and dropped, so that the client sees the answer.
      ex.req.resume();
      const message = `File size too large. Got more than ${error.limit} bytes in one request. Maximum is ${error.limit}.`;
      await this.send(ex, 413, { error: { message } });
    } else if (error instanceof CloudinaryError) {
      await this.send(ex, error.status, { error: { message: error.message } });
    } else if (error instanceof MalformedBodyError) {
      await this.send(ex, 400, { error: { message: error.message } });
    } else {
      ex.record.error = error instanceof Error ? error.stack : String(error);
      if (!ex.res.headersSent) await this.send(ex, 500, { error: { message: 'General Error' } });
      else ex.res.destroy();
    }
  }

  private async readBody(ex: Reply, maxBytes: number): Promise<ReceivedBody> {
    const resetAfterBytes = ex.fault?.kind === 'reset' ? (ex.fault.afterBytes ?? DEFAULT_RESET_AFTER_BYTES) : undefined;
    const body = await readBody(ex.req, ex.url.searchParams, {
      maxBytes,
      resetAfterBytes,
      tempPath: () => this.store.tempPath(),
      progress: (bytes) => {
        ex.record.bytesIn = bytes;
      },
    });
    if (resetAfterBytes !== undefined) {
      // The body was shorter than the reset point: reset before answering.
      if (body.file) await this.store.discard(body.file.path);
      throw new InjectedResetError('reset injected');
    }
    return body;
  }

  private async drain(ex: Reply): Promise<void> {
    const { file } = await this.readBody(ex, Number.MAX_SAFE_INTEGER);
    if (file) await this.store.discard(file.path);
  }

  private async delay(ex: Reply): Promise<void> {
    if (ex.fault?.kind !== 'slow') return;
    const ms = ex.fault.delayMs ?? DEFAULT_SLOW_MS;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private async send(ex: Reply, status: number, body: unknown): Promise<void> {
    await this.delay(ex);
    if (ex.res.destroyed || ex.res.headersSent) {
      ex.record.outcome = 'aborted';
      return;
    }
    const json = JSON.stringify(body);
    const message = (body as { error?: { message?: string } }).error?.message;
    ex.res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(json),
      ...(message ? { 'X-Cld-Error': headerSafe(message) } : {}),
    });
    ex.res.end(json);
    ex.record.status = status;
    ex.record.outcome = 'answered';
    if (message) ex.record.error = message;
  }
}

/** Starts the fake on 127.0.0.1 with a free port. Close it in afterAll. */
export async function startCloudinaryServer(options: CloudinaryServerOptions = {}): Promise<FakeCloudinary> {
  const store = await ObjectStore.create();
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return new FakeCloudinary(server, store, {
    cloudName: options.cloudName ?? 'kiln-test-cloud',
    apiKey: options.apiKey ?? '123456789012345',
    apiSecret: options.apiSecret ?? 'fake-cloudinary-secret',
    minChunkBytes: options.minChunkBytes ?? DEFAULT_MIN_CHUNK_BYTES,
    maxRequestBytes: options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
    signatureAlgorithm: options.signatureAlgorithm ?? 'sha1',
  });
}
