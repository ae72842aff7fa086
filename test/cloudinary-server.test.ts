/**
 * The fake Cloudinary (test/support/cloudinary) driven by the real SDK, so that
 * Kiln's own Cloudinary tests can trust it: what it accepts, what it refuses
 * and how each injected fault reaches the SDK. Also pins the SDK behaviour
 * Kiln's driver must work around (see the header of cloudinary-server.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { v2 as cloudinary, type UploadApiErrorResponse, type UploadApiOptions, type UploadApiResponse } from 'cloudinary';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { signParams, stringToSign, type Params } from './support/cloudinary/cloudinary-signature';
import { until } from './support/until';

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex');
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

type SdkError = UploadApiErrorResponse & { error?: UploadApiErrorResponse };
/** The SDK rejects with `{ message, http_code }` or `{ error: { … } }` depending on the failure. */
const inner = (e: unknown): UploadApiErrorResponse => ((e as SdkError).error ?? e) as UploadApiErrorResponse;

let server: FakeCloudinary;
let workDir: string;
let bigFile: string;
let bigBytes: Buffer;

beforeAll(async () => {
  server = await startCloudinaryServer();
  workDir = await mkdtemp(path.join(tmpdir(), 'kiln-cloudinary-test-'));
  bigBytes = randomBytes(12 * MiB);
  bigFile = path.join(workDir, 'big.bin');
  await writeFile(bigFile, bigBytes);
});

afterAll(async () => {
  await server?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

afterEach(() => {
  expect(server.faults).toEqual([]); // every queued fault was hit
  server.clockOffsetSeconds = 0;
});

function rawOptions(target: FakeCloudinary, options: UploadApiOptions): UploadApiOptions {
  return { ...target.sdkOptions(), resource_type: 'raw', type: 'authenticated', overwrite: true, ...options };
}

/** upload_stream (one multipart request) from a readable. */
function uploadStream(source: Readable, options: UploadApiOptions, target = server): Promise<UploadApiResponse> {
  return new Promise((resolve, reject) => {
    const sink = cloudinary.uploader.upload_stream(rawOptions(target, options), (error, result) => {
      if (error || !result) {
        source.destroy(); // the SDK leaves its input stalled on error
        reject(error);
      } else resolve(result);
    });
    source.pipe(sink);
  });
}

/** upload_chunked_stream (signed chunks with Content-Range and X-Unique-Upload-Id). */
function uploadChunked(source: Readable, options: UploadApiOptions, target = server): Promise<UploadApiResponse> {
  return new Promise((resolve, reject) => {
    const sink = cloudinary.uploader.upload_chunked_stream(rawOptions(target, options), (error, result) => {
      if (error || !result) {
        source.destroy();
        reject(error);
      } else resolve(result);
    });
    source.pipe(sink);
  });
}

const small = (text = 'kiln backup bytes'): Readable => Readable.from([Buffer.from(text)]);

function downloadUrl(publicId: string, extra: Record<string, unknown> = {}, target = server): string {
  const options = {
    ...target.sdkOptions(),
    resource_type: 'raw',
    type: 'authenticated',
    expires_at: nowSeconds() + 900,
    attachment: true,
    ...extra,
  } as Parameters<typeof cloudinary.utils.private_download_url>[2];
  return cloudinary.utils.private_download_url(publicId, '', options);
}

interface Fetched {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error(`truncated after ${Buffer.concat(chunks).length} bytes`));
        });
      })
      .on('error', reject);
  });
}

const json = (fetched: Fetched): { error?: { message: string } } => JSON.parse(fetched.body.toString('utf8'));

describe('signature', () => {
  const secret = 'abcd';
  const cases: Params[] = [
    { public_id: 'kiln-backups/a.kbk', timestamp: '1700000000', type: 'authenticated', overwrite: '1' },
    { timestamp: '1700000000', public_id: 'a&b=c', folder: '', tags: ['x', '', 'y'], invalidate: '' },
    { timestamp: '1', expires_at: '2', attachment: 'true', public_id: 'p q/r', type: 'authenticated' },
  ];

  it.each(cases)('agrees with the SDK (sha1 and sha256) for %j', (params) => {
    const sdkSign = cloudinary.utils.api_sign_request as (p: object, s: string, algo?: string) => string;
    expect(signParams(params, secret)).toBe(sdkSign({ ...params }, secret, 'sha1'));
    expect(signParams(params, secret, 'sha256')).toBe(sdkSign({ ...params }, secret, 'sha256'));
  });

  it('leaves out file, api_key, resource_type, cloud_name and signature, and escapes & as %26', () => {
    const toSign = stringToSign({
      public_id: 'a&b',
      timestamp: '5',
      file: 'x',
      api_key: 'k',
      resource_type: 'raw',
      cloud_name: 'c',
      signature: 's',
      eager: '',
    });
    expect(toSign).toBe('public_id=a%26b&timestamp=5');
  });
});

describe('pointing the SDK at the fake', () => {
  it('refuses a global config({ upload_prefix: "http://…" }) once the SDK is loaded: the https module is fixed', async () => {
    let fresh!: typeof cloudinary;
    jest.isolateModules(() => {
      fresh = (require('cloudinary') as { v2: typeof cloudinary }).v2;
    });
    const { agent: _agent, ...withoutAgent } = server.sdkOptions();
    fresh.config(withoutAgent);
    const error = await new Promise<unknown>((resolve) => {
      try {
        fresh.uploader.upload_stream({ resource_type: 'raw' }, (e) => resolve(e)).end(Buffer.from('x'));
      } catch (thrown) {
        resolve(thrown);
      }
    });
    expect(String((error as Error).message ?? error)).toMatch(/Protocol "http:" not supported/);
  });

  it('works with CLOUDINARY_URL set before the SDK is first required', async () => {
    const saved = process.env.CLOUDINARY_URL;
    let fresh!: typeof cloudinary;
    try {
      process.env.CLOUDINARY_URL = server.cloudinaryUrl;
      jest.isolateModules(() => {
        fresh = (require('cloudinary') as { v2: typeof cloudinary }).v2;
      });
    } finally {
      if (saved === undefined) delete process.env.CLOUDINARY_URL;
      else process.env.CLOUDINARY_URL = saved;
    }
    const result = await new Promise<UploadApiResponse | undefined>((resolve, reject) => {
      fresh.uploader
        .upload_stream({ resource_type: 'raw', type: 'authenticated', public_id: 'wiring/env.bin' }, (e, r) =>
          e ? reject(e) : resolve(r),
        )
        .end(Buffer.from('via env'));
    });
    expect(result?.public_id).toBe('wiring/env.bin');
    // Global config here (from the env), so the SDK can check the response signature itself.
    const verify = (fresh.utils as unknown as { verify_api_response_signature(id: string, v: number, s: string): boolean })
      .verify_api_response_signature;
    expect(verify(result!.public_id, result!.version, result!.signature)).toBe(true);
  });

  it('has upload_chunked_stream at runtime but not upload_large_stream', () => {
    expect(typeof cloudinary.uploader.upload_chunked_stream).toBe('function');
    expect((cloudinary.uploader as unknown as Record<string, unknown>).upload_large_stream).toBeUndefined();
  });
});

describe('upload', () => {
  it('stores a one-request upload_stream as an authenticated raw resource', async () => {
    const bytes = Buffer.from('a small backup file');
    const before = server.requests.length;
    const result = await uploadStream(Readable.from([bytes]), { public_id: 'kiln-backups/small.kbk' });
    expect(result).toMatchObject({
      public_id: 'kiln-backups/small.kbk',
      resource_type: 'raw',
      type: 'authenticated',
      bytes: bytes.length,
      etag: md5(bytes),
      original_filename: 'file',
    });
    expect(result.version).toBeGreaterThanOrEqual(nowSeconds() - 5);
    expect(result.secure_url).toMatch(
      new RegExp(`^${server.url}/${server.cloudName}/raw/authenticated/s--[\\w-]{8}--/v${result.version}/kiln-backups/small\\.kbk$`),
    );
    expect(await server.readObject('kiln-backups/small.kbk')).toEqual(bytes);
    expect(server.requests.slice(before)).toEqual([
      expect.objectContaining({ endpoint: 'upload', path: `/v1_1/${server.cloudName}/raw/upload`, status: 200 }),
    ]);
    expect(server.requests[before].contentRange).toBeUndefined();
  });

  it('prefixes public_id with folder, bumps the version on overwrite and keeps the old asset when overwrite is false', async () => {
    const first = await uploadStream(small('one'), { folder: 'kiln-backups', public_id: 'folder.kbk' });
    expect(first.public_id).toBe('kiln-backups/folder.kbk');
    const second = await uploadStream(small('two!'), { folder: 'kiln-backups', public_id: 'folder.kbk' });
    expect(second.version).toBeGreaterThan(first.version);
    expect(second.bytes).toBe(4);
    const kept = await uploadStream(small('three'), { public_id: 'kiln-backups/folder.kbk', overwrite: false });
    expect(kept).toMatchObject({ existing: true, version: second.version, bytes: 4 });
    expect((await server.readObject('kiln-backups/folder.kbk')).toString()).toBe('two!');
  });

  it('assembles a chunked upload of 12 MiB sent in 5 MiB chunks', async () => {
    const before = server.requests.length;
    const result = await uploadChunked(createReadStream(bigFile), { public_id: 'kiln-backups/big.kbk', chunk_size: 5 * MiB });
    expect(result).toMatchObject({
      public_id: 'kiln-backups/big.kbk',
      bytes: bigBytes.length,
      etag: md5(bigBytes),
      resource_type: 'raw',
      type: 'authenticated',
    });
    const chunks = server.requests.slice(before);
    expect(chunks.map((r) => [r.contentRange, r.status])).toEqual([
      ['bytes 0-5242879/-1', 200],
      ['bytes 5242880-10485759/-1', 200],
      ['bytes 10485760-12582911/12582912', 200],
    ]);
    expect(new Set(chunks.map((r) => r.uploadId)).size).toBe(1);
    expect(chunks[0].uploadId).toBeTruthy();
    expect(server.objects.get('kiln-backups/big.kbk')?.parts).toBe(3);
    expect(sha256(await server.readObject('kiln-backups/big.kbk'))).toBe(sha256(bigBytes));
  });

  it('refuses chunks below the 5 MiB minimum (all but the last)', async () => {
    const error = await uploadChunked(Readable.from([randomBytes(3 * MiB)]), {
      public_id: 'kiln-backups/tiny-chunks.kbk',
      chunk_size: MiB,
    }).catch(inner);
    expect(error).toMatchObject({ http_code: 400, message: expect.stringMatching(/at least 5242880 bytes/) });
    expect(server.objects.has('kiln-backups/tiny-chunks.kbk')).toBe(false);
  });

  it('refuses a non-raw resource type as Cloudinary does for a non-image file', async () => {
    const error = await uploadStream(small(), { resource_type: 'image', public_id: 'kiln-backups/img' }).catch(inner);
    expect(error).toMatchObject({ http_code: 400, message: 'Invalid image file' });
  });

  describe('with a small request limit', () => {
    let limited: FakeCloudinary;
    beforeAll(async () => {
      limited = await startCloudinaryServer({ maxRequestBytes: MiB, minChunkBytes: 256 * 1024 });
    });
    afterAll(async () => limited?.close());

    it('answers 413 to one request larger than the limit, and takes the same bytes chunked', async () => {
      const bytes = randomBytes(2 * MiB + 123);
      const error = await uploadStream(Readable.from([bytes]), { public_id: 'too-big.kbk' }, limited).catch(inner);
      expect(error).toMatchObject({ http_code: 413, message: 'Server returned unexpected status code - 413' });
      expect(limited.requests.at(-1)).toMatchObject({ status: 413 });

      const result = await uploadChunked(Readable.from([bytes]), { public_id: 'too-big.kbk', chunk_size: 512 * 1024 }, limited);
      expect(result.bytes).toBe(bytes.length);
      expect(limited.objects.get('too-big.kbk')?.parts).toBe(5);
      expect(sha256(await limited.readObject('too-big.kbk'))).toBe(sha256(bytes));
    });
  });
});

describe('authentication', () => {
  it('refuses a wrong api_secret with Invalid Signature and the string to sign', async () => {
    const error = await uploadStream(small(), { public_id: 'kiln-backups/x.kbk', api_secret: 'wrong' }).catch(inner);
    expect(error.http_code).toBe(401);
    expect(error.message).toMatch(
      /^Invalid Signature [0-9a-f]{40}\. String to sign - 'overwrite=1&public_id=kiln-backups\/x\.kbk&timestamp=\d+&type=authenticated'\.$/,
    );
  });

  it('refuses an unknown api_key', async () => {
    const error = await uploadStream(small(), { public_id: 'kiln-backups/x.kbk', api_key: '999' }).catch(inner);
    expect(error).toMatchObject({ http_code: 401, message: 'Unknown API key 999' });
  });

  it('refuses a timestamp more than an hour old', async () => {
    const error = await uploadStream(small(), { public_id: 'kiln-backups/x.kbk', timestamp: nowSeconds() - 3700 }).catch(inner);
    expect(error.http_code).toBe(400);
    expect(error.message).toMatch(
      /^Stale request - reported time is \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 which is more than 1 hour ago$/,
    );
  });

  it('refuses a wrong cloud name', async () => {
    const error = await uploadStream(small(), { public_id: 'kiln-backups/x.kbk', cloud_name: 'other' }).catch(inner);
    expect(error).toMatchObject({ http_code: 401, message: 'Invalid cloud_name other' });
  });

  it('checks SHA-256 signatures on an account set to SHA-256', async () => {
    const sha256Account = await startCloudinaryServer({ signatureAlgorithm: 'sha256' });
    try {
      const refused = await uploadStream(small(), { public_id: 'a.kbk' }, sha256Account).catch(inner);
      expect(refused.http_code).toBe(401);
      const ok = await uploadStream(small(), { public_id: 'a.kbk', signature_algorithm: 'sha256' }, sha256Account);
      expect(ok.public_id).toBe('a.kbk');
    } finally {
      await sha256Account.close();
    }
  });
});

describe('private download', () => {
  const publicId = 'kiln-backups/download.kbk';
  const bytes = randomBytes(300 * 1024);
  beforeAll(async () => {
    await uploadStream(Readable.from([bytes]), { public_id: publicId });
  });

  it('builds the URL Kiln hands out', () => {
    const url = new URL(downloadUrl(publicId, { expires_at: 2000000000 }));
    expect(`${url.origin}${url.pathname}`).toBe(`${server.url}/v1_1/${server.cloudName}/raw/download`);
    expect([...url.searchParams.keys()]).toEqual([
      'timestamp',
      'public_id',
      'type',
      'attachment',
      'expires_at',
      'signature',
      'api_key',
    ]);
    expect(url.searchParams.get('public_id')).toBe(publicId);
  });

  it('streams the stored bytes with their length, as an attachment', async () => {
    const res = await get(downloadUrl(publicId));
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(bytes.length));
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toBe('attachment; filename="download.kbk"');
    expect(res.headers.etag).toBe(`"${md5(bytes)}"`);
    expect(sha256(res.body)).toBe(sha256(bytes));
  });

  it('serves a byte range', async () => {
    const res = await get(downloadUrl(publicId), { Range: 'bytes=100-199' });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 100-199/${bytes.length}`);
    expect(res.body.equals(bytes.subarray(100, 200))).toBe(true);
  });

  it('refuses a tampered signature or a stretched expires_at', async () => {
    const url = new URL(downloadUrl(publicId));
    const signature = url.searchParams.get('signature') ?? '';
    url.searchParams.set('signature', `${signature[0] === 'a' ? 'b' : 'a'}${signature.slice(1)}`);
    const tampered = await get(url.toString());
    expect(tampered.status).toBe(401);
    expect(json(tampered).error?.message).toMatch(/^Invalid Signature /);
    expect(tampered.headers['x-cld-error']).toMatch(/^Invalid Signature /);

    const stretched = new URL(downloadUrl(publicId));
    stretched.searchParams.set('expires_at', String(nowSeconds() + 86400));
    expect((await get(stretched.toString())).status).toBe(401);
  });

  it('refuses an expired link', async () => {
    const expired = await get(downloadUrl(publicId, { expires_at: nowSeconds() - 1 }));
    expect(expired.status).toBe(401);
    expect(json(expired).error?.message).toMatch(/^Expired link/);

    const url = downloadUrl(publicId); // good for 900 s
    expect((await get(url)).status).toBe(200);
    server.clockOffsetSeconds = 901;
    expect((await get(url)).status).toBe(401);
  });

  it('answers 404 for a missing asset or the wrong delivery type', async () => {
    const missing = await get(downloadUrl('kiln-backups/nope.kbk'));
    expect(missing.status).toBe(404);
    expect(json(missing).error?.message).toBe('Resource not found - kiln-backups/nope.kbk');
    expect((await get(downloadUrl(publicId, { type: 'upload' }))).status).toBe(404);
  });
});

describe('destroy', () => {
  it('answers ok, then not found; the default type (upload) does not find an authenticated asset', async () => {
    await uploadStream(small(), { public_id: 'kiln-backups/destroy.kbk' });
    const options = { ...server.sdkOptions(), resource_type: 'raw' };
    expect(await cloudinary.uploader.destroy('kiln-backups/destroy.kbk', options)).toEqual({ result: 'not found' });
    expect(server.objects.has('kiln-backups/destroy.kbk')).toBe(true);

    const authenticated = { ...options, type: 'authenticated', invalidate: true };
    expect(await cloudinary.uploader.destroy('kiln-backups/destroy.kbk', authenticated)).toEqual({ result: 'ok' });
    expect(server.objects.has('kiln-backups/destroy.kbk')).toBe(false);
    expect(await cloudinary.uploader.destroy('kiln-backups/destroy.kbk', authenticated)).toEqual({ result: 'not found' });
  });

  it('refuses a wrong secret', async () => {
    const options = { ...server.sdkOptions(), resource_type: 'raw', type: 'authenticated', api_secret: 'wrong' };
    const error = await cloudinary.uploader.destroy('whatever', options).catch(inner);
    expect(error.http_code).toBe(401);
    expect(error.message).toMatch(/^Invalid Signature [0-9a-f]{40}\. String to sign - 'public_id=whatever&timestamp=\d+&type=authenticated'\.$/);
  });
});

describe('Admin API', () => {
  const admin = (extra: Record<string, unknown> = {}) => ({
    ...server.sdkOptions(),
    resource_type: 'raw',
    type: 'authenticated',
    ...extra,
  });

  beforeAll(async () => {
    for (const name of ['a', 'b', 'c']) await uploadStream(small(name), { public_id: `kiln-backups/list-${name}.kbk` });
  });

  it('describes one resource', async () => {
    const resource = await cloudinary.api.resource('kiln-backups/list-a.kbk', admin());
    const stored = server.objects.get('kiln-backups/list-a.kbk');
    expect(resource).toMatchObject({
      public_id: 'kiln-backups/list-a.kbk',
      bytes: 1,
      version: stored?.version,
      etag: md5(Buffer.from('a')),
      resource_type: 'raw',
      type: 'authenticated',
    });
    expect(server.requests.at(-1)?.path).toBe(`/v1_1/${server.cloudName}/resources/raw/authenticated/kiln-backups%2Flist-a.kbk`);
  });

  it('answers 404 for a missing resource', async () => {
    const error = await cloudinary.api.resource('kiln-backups/none.kbk', admin()).catch(inner);
    expect(error).toMatchObject({ http_code: 404, message: 'Resource not found - kiln-backups/none.kbk' });
  });

  it('lists by prefix, a page at a time', async () => {
    const first = await cloudinary.api.resources(admin({ prefix: 'kiln-backups/list-', max_results: 2 }));
    expect(first.resources).toHaveLength(2);
    expect(first.next_cursor).toBeTruthy();
    const second = await cloudinary.api.resources(admin({ prefix: 'kiln-backups/list-', next_cursor: first.next_cursor }));
    const ids = [...first.resources, ...second.resources].map((r: { public_id: string }) => r.public_id).sort();
    expect(ids).toEqual(['kiln-backups/list-a.kbk', 'kiln-backups/list-b.kbk', 'kiln-backups/list-c.kbk']);
    expect(second.next_cursor).toBeUndefined();
  });

  it('refuses a wrong secret or key', async () => {
    expect(await cloudinary.api.resource('kiln-backups/list-a.kbk', admin({ api_secret: 'x' })).catch(inner)).toMatchObject({
      http_code: 401,
      message: 'api_secret mismatch',
    });
    expect(await cloudinary.api.resource('kiln-backups/list-a.kbk', admin({ api_key: '1' })).catch(inner)).toMatchObject({
      http_code: 401,
      message: 'Unknown API key 1',
    });
  });
});

describe('faults', () => {
  it('500: the SDK reports http_code 500, and the next call succeeds', async () => {
    server.faults.push({ match: 'upload', kind: '500' });
    const error = await uploadStream(small(), { public_id: 'kiln-backups/f500.kbk' }).catch(inner);
    expect(error).toMatchObject({ http_code: 500, message: 'Internal Server Error' });
    expect(server.requests.at(-1)).toMatchObject({ fault: '500', status: 500 });
    await expect(uploadStream(small(), { public_id: 'kiln-backups/f500.kbk' })).resolves.toMatchObject({ bytes: 17 });
  });

  it('500 on every chunk stops a chunked upload at its first chunk; 503 is an "unexpected status"', async () => {
    server.faults.push({ match: 'upload', kind: '500', times: Infinity });
    const error = await uploadChunked(createReadStream(bigFile), { public_id: 'kiln-backups/f500c.kbk', chunk_size: 5 * MiB }).catch(
      inner,
    );
    expect(error.http_code).toBe(500);
    expect(server.requests.at(-1)).toMatchObject({ contentRange: 'bytes 0-5242879/-1', status: 500 });
    server.faults.length = 0;

    server.faults.push({ match: 'destroy', kind: '500', status: 503 });
    const options = { ...server.sdkOptions(), resource_type: 'raw', type: 'authenticated' };
    const unavailable = await cloudinary.uploader.destroy('kiln-backups/anything', options).catch(inner);
    expect(unavailable).toMatchObject({ http_code: 503, message: 'Server returned unexpected status code - 503' });
  });

  it('reset in the middle of a chunked upload fails it; a fresh attempt then succeeds', async () => {
    const before = server.requests.length;
    server.faults.push({ match: 'upload', kind: 'reset', skip: 1, afterBytes: MiB });
    const error = await uploadChunked(createReadStream(bigFile), { public_id: 'kiln-backups/reset.kbk', chunk_size: 5 * MiB }).catch(
      inner,
    );
    expect(String(error.message ?? error)).toMatch(/ECONNRESET|EPIPE|socket hang up|write after end/);
    expect(server.requests.slice(before).map((r) => [r.contentRange, r.outcome])).toEqual([
      ['bytes 0-5242879/-1', 'answered'],
      ['bytes 5242880-10485759/-1', 'reset'],
    ]);
    expect(server.objects.has('kiln-backups/reset.kbk')).toBe(false);

    const retried = await uploadChunked(createReadStream(bigFile), { public_id: 'kiln-backups/reset.kbk', chunk_size: 5 * MiB });
    expect(retried.bytes).toBe(bigBytes.length);
    expect(sha256(await server.readObject('kiln-backups/reset.kbk'))).toBe(sha256(bigBytes));
  });

  it('timeout: a request never answered ends with the SDK timeout option (TimeoutError, 499)', async () => {
    server.faults.push({ match: 'upload', kind: 'timeout' });
    const started = Date.now();
    const error = await uploadStream(small(), { public_id: 'kiln-backups/timeout.kbk', timeout: 400 }).catch(inner);
    expect(error).toMatchObject({ name: 'TimeoutError', http_code: 499, message: 'Request Timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(server.requests.at(-1)).toMatchObject({ fault: 'timeout', outcome: 'timeout' });

    server.faults.push({ match: 'destroy', kind: 'timeout' });
    const options = { ...server.sdkOptions(), resource_type: 'raw', type: 'authenticated', timeout: 300 };
    expect(await cloudinary.uploader.destroy('kiln-backups/timeout.kbk', options).catch(inner)).toMatchObject({
      name: 'TimeoutError',
    });
  });

  it('slow: answers after the delay, or times the SDK out if the delay is longer', async () => {
    server.faults.push({ match: 'upload', kind: 'slow', delayMs: 300 });
    const started = Date.now();
    await uploadStream(small(), { public_id: 'kiln-backups/slow.kbk' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    server.faults.push({ match: 'upload', kind: 'slow', delayMs: 1500 });
    const error = await uploadStream(small(), { public_id: 'kiln-backups/slow.kbk', timeout: 300 }).catch(inner);
    expect(error.name).toBe('TimeoutError');
  });

  it('download faults: a reset truncates the body after the headers; 500 is a JSON error', async () => {
    const bytes = randomBytes(256 * 1024);
    await uploadStream(Readable.from([bytes]), { public_id: 'kiln-backups/dl-fault.kbk' });
    server.faults.push({ match: 'download', kind: 'reset', afterBytes: 1000 });
    await expect(get(downloadUrl('kiln-backups/dl-fault.kbk'))).rejects.toThrow(/aborted|truncated|ECONNRESET/);
    expect(server.requests.at(-1)).toMatchObject({ endpoint: 'download', status: 200, outcome: 'reset' });

    server.faults.push({ match: 'download', kind: '500' });
    const failed = await get(downloadUrl('kiln-backups/dl-fault.kbk'));
    expect(failed.status).toBe(500);
    expect(json(failed)).toEqual({ error: { message: 'Internal Server Error' } });
    expect(sha256((await get(downloadUrl('kiln-backups/dl-fault.kbk'))).body)).toBe(sha256(bytes));
  });

  it('Admin API: a reset rejects, but a request never answered hangs (the SDK ignores `timeout` there)', async () => {
    const options = { ...server.sdkOptions(), resource_type: 'raw', type: 'authenticated', timeout: 200 };
    server.faults.push({ match: 'resource', kind: 'reset' });
    await expect(cloudinary.api.resource('kiln-backups/list-a.kbk', options)).rejects.toMatchObject({ code: 'ECONNRESET' });

    server.faults.push({ match: 'resource', kind: 'timeout' });
    // Our own agent, to see the SDK's socket: its 200 ms timeout fires, and nothing ends the request.
    const timeouts: Array<Promise<unknown>> = [];
    const agent = new (class extends http.Agent {
      createConnection(...args: Parameters<http.Agent['createConnection']>) {
        const socket = super.createConnection(...args) as import('node:net').Socket;
        timeouts.push(new Promise((resolve) => socket.once('timeout', resolve)));
        return socket;
      }
    })();
    let outcome = 'still pending';
    const call = cloudinary.api.resource('kiln-backups/list-a.kbk', { ...options, agent }).then(
      () => (outcome = 'answered'),
      () => (outcome = 'rejected'),
    );
    try {
      await until('the server to hold the request', () => server.requests.at(-1), (r) => r?.endpoint === 'resource' && r.outcome === 'timeout', 10_000, 10);
      expect(timeouts).toHaveLength(1);
      await timeouts[0];
      // What the timeout's own handlers did has run by the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      expect(outcome).toBe('still pending');
    } finally {
      agent.destroy();
      await call;
    }
  });

  it('a predicate picks the request: here only the final chunk', async () => {
    server.faults.push({ match: (r) => r.endpoint === 'upload' && /\/\d+$/.test(r.contentRange ?? ''), kind: '500' });
    const error = await uploadChunked(createReadStream(bigFile), { public_id: 'kiln-backups/last.kbk', chunk_size: 5 * MiB }).catch(
      inner,
    );
    expect(error.http_code).toBe(500);
    expect(server.requests.at(-1)?.contentRange).toBe('bytes 10485760-12582911/12582912');
  });
});
