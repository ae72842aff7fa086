import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { KilnConfig } from '../config/config';
import { StorageUnavailableError } from '../errors/kiln-errors';
import type { Logger } from '../logging/logger';
import { countBytes } from './count-bytes';
import { regroupBytes } from './regroup-bytes';
import type { ByteRange, PutOptions, PutSource, StorageDriver, StoredObject } from './storage-driver';

type CloudConfig = NonNullable<KilnConfig['cloud']>;
type CloudinarySdk = typeof import('cloudinary').v2;

/** Kiln's copies are `authenticated` (never public); the lending app's own uploads are `upload`. */
export type CloudDeliveryType = 'authenticated' | 'upload';

interface SdkError {
  message?: string;
  http_code?: number;
}

/**
 * Backup copies on Cloudinary: raw resources of one delivery type — Kiln's own
 * are `authenticated` (never public), the app's are `upload` (read and deleted,
 * never written) — uploaded in chunks so that a failed attempt can start again
 * (same public_id, overwrite: idempotent), downloaded through signed, expiring URLs.
 * Keys are public ids; `put` prefixes CLOUDINARY_FOLDER to the key it is given.
 */
export class CloudinaryStorageDriver implements StorageDriver {
  readonly name = 'CLOUD';
  private sdkInstance?: CloudinarySdk;
  /**
   * Account and endpoint go with every call: the SDK fixes http or https when it
   * loads, and only an agent of the right protocol on each call overrides that.
   */
  private readonly account: Record<string, unknown>;

  constructor(
    private readonly config: CloudConfig,
    private readonly logger: Logger,
    readonly deliveryType: CloudDeliveryType = 'authenticated',
  ) {
    const http = config.uploadPrefix.startsWith('http:');
    this.account = {
      cloud_name: config.cloudName,
      api_key: config.apiKey,
      api_secret: config.apiSecret,
      upload_prefix: config.uploadPrefix,
      secure: !http,
      agent: http ? new HttpAgent({ keepAlive: true }) : new HttpsAgent({ keepAlive: true }),
    };
  }

  /** Closes the kept-alive connections (on shutdown). */
  close(): void {
    (this.account.agent as HttpAgent).destroy();
  }

  publicIdFor(key: string): string {
    return this.config.folder ? `${this.config.folder}/${key}` : key;
  }

  /** Whether Cloudinary can be reached is only known by trying: a put reports it. */
  async assertWritable(): Promise<void> {
    if (this.deliveryType !== 'authenticated') throw new StorageUnavailableError("Kiln never writes the app's public cloud uploads");
  }

  /**
   * Uploads the source as `<folder>/<key>`. Given a way to open the bytes again, transient
   * failures are retried with backoff (CLOUD_RETRY_ATTEMPTS); a single stream gets one attempt.
   */
  async put(key: string, source: PutSource, options: PutOptions): Promise<StoredObject> {
    await this.assertWritable();
    const signal = options.signal ?? new AbortController().signal;
    const publicId = this.publicIdFor(key);
    const open = typeof source === 'function' ? source : () => Promise.resolve(source);
    const attempts = typeof source === 'function' ? this.config.retryAttempts : 1;
    let lastError: StorageUnavailableError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      signal.throwIfAborted();
      try {
        const result = await this.uploadOnce(publicId, await open(), signal, options.onProgress);
        if (options.expectedBytes !== undefined && result.bytes !== options.expectedBytes) {
          throw new StorageUnavailableError(`Cloudinary holds ${result.bytes} bytes of ${publicId}, ${options.expectedBytes} were sent`);
        }
        return { key: publicId, version: result.version, bytes: result.bytes, address: result.url };
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        lastError = err instanceof StorageUnavailableError ? err : new StorageUnavailableError(`Cloudinary upload failed: ${(err as Error).message}`);
        const transient = isTransient(err);
        this.logger.warn({ publicId, attempt, transient, error: lastError.message }, 'cloud upload attempt failed');
        if (!transient || attempt === attempts) break;
        await sleep(Math.min(500 * 2 ** (attempt - 1), 8000), signal);
      }
    }
    throw lastError!;
  }

  /** A URL that downloads the copy without other credentials until `ttlSeconds` from now. */
  signedUrl(publicId: string, ttlSeconds: number): string {
    return this.sdk().utils.private_download_url(publicId, '', {
      ...this.account,
      resource_type: 'raw',
      type: this.deliveryType,
      expires_at: Math.floor(Date.now() / 1000) + ttlSeconds,
      attachment: true,
    });
  }

  /** The copy's bytes (or a range of them), streamed through a short-lived signed URL. */
  async get(publicId: string, range?: ByteRange): Promise<Readable> {
    let res: Response;
    try {
      res = await fetch(this.signedUrl(publicId, 300), {
        signal: AbortSignal.timeout(this.config.timeoutMs),
        headers: range ? { range: `bytes=${range.start}-${range.end}` } : {},
      });
    } catch (err) {
      throw new StorageUnavailableError(`Cloudinary download failed: ${(err as Error).message}`);
    }
    if (!res.ok || !res.body || (range && res.status !== 206)) {
      await res.body?.cancel();
      throw new StorageUnavailableError(`Cloudinary download of ${publicId} failed with HTTP ${res.status}`);
    }
    return Readable.fromWeb(res.body as unknown as WebReadableStream);
  }

  /** Size of the copy, or null when Cloudinary does not have it. */
  async stat(publicId: string): Promise<{ bytes: number; modifiedAt?: Date } | null> {
    try {
      // The SDK ignores `timeout` on Admin API calls: bound it here.
      const resource = await withTimeout(
        this.sdk().api.resource(publicId, { ...this.account, resource_type: 'raw', type: this.deliveryType }) as Promise<{ bytes?: unknown; created_at?: unknown }>,
        this.config.timeoutMs,
      );
      const created = typeof resource.created_at === 'string' ? new Date(resource.created_at) : undefined;
      return { bytes: Number(resource.bytes), ...(created && !Number.isNaN(created.getTime()) ? { modifiedAt: created } : {}) };
    } catch (err) {
      const e = sdkError(err);
      if (e.http_code === 404) return null;
      throw new StorageUnavailableError(`Cloudinary could not be asked about ${publicId}: ${e.message ?? 'unknown error'}`);
    }
  }

  /** Removes the copy; one already gone counts as removed. */
  async delete(publicId: string): Promise<void> {
    const result = await new Promise<{ result?: string; error?: SdkError }>((resolve) => {
      const options = { ...this.account, resource_type: 'raw' as const, type: this.deliveryType, invalidate: true, timeout: this.config.timeoutMs };
      void this.sdk().uploader.destroy(publicId, options, (error: SdkError | undefined, res: unknown) =>
        resolve(error ? { error } : (res as { result?: string })),
      );
    });
    if (result.error) throw new StorageUnavailableError(`Cloudinary could not delete ${publicId}: ${result.error.message ?? 'unknown error'}`);
    if (result.result !== 'ok' && result.result !== 'not found') {
      throw new StorageUnavailableError(`Cloudinary could not delete ${publicId}: ${result.result}`);
    }
  }

  /** Cloudinary never shows an unfinished chunked upload as a resource: nothing is left to clean up. */
  async removeIncomplete(_keepTags: () => Promise<ReadonlySet<string>>): Promise<string[]> {
    return [];
  }

  private uploadOnce(publicId: string, source: Readable, signal: AbortSignal, onProgress?: (bytes: number) => void): Promise<{ bytes: number; version: number; url: string }> {
    return new Promise((resolve, reject) => {
      const upload = this.sdk().uploader.upload_chunked_stream(
        {
          ...this.account,
          resource_type: 'raw',
          type: 'authenticated',
          public_id: publicId,
          overwrite: true,
          invalidate: true,
          chunk_size: this.config.chunkBytes,
          timeout: this.config.timeoutMs,
        },
        (error, result) => {
          if (error || !result) {
            // The SDK stops reading the source on failure but never closes it.
            source.destroy();
            const e = sdkError(error);
            reject(Object.assign(new Error(e.message ?? 'no answer from Cloudinary'), { http_code: e.http_code }));
          } else resolve({ bytes: Number(result.bytes), version: Number(result.version), url: String(result.secure_url ?? result.url ?? '') });
        },
      );
      // Eighths of a chunk: see regroupBytes.
      const pieces = regroupBytes(Math.ceil(this.config.chunkBytes / 8));
      (onProgress ? pipeline(source, countBytes(onProgress), pieces, upload, { signal }) : pipeline(source, pieces, upload, { signal })).catch(reject);
    });
  }

  /**
   * The SDK, loaded on first use; all account settings travel with each call
   * (see `account`), so its global config is never touched.
   */
  private sdk(): CloudinarySdk {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.sdkInstance ??= (require('cloudinary') as typeof import('cloudinary')).v2;
    return this.sdkInstance;
  }
}

function sdkError(err: unknown): SdkError {
  const e = err as { error?: SdkError } & SdkError;
  return e?.error ?? e ?? {};
}

/** 5xx, timeouts and broken connections may pass on a retry; 4xx will not. */
function isTransient(err: unknown): boolean {
  const code = sdkError(err).http_code;
  return code === undefined || code >= 500 || code === 408 || code === 429 || code === 499;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { http_code: 499 })), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
