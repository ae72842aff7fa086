/**
 * The fake's storage: every object and every chunk lives in one temp
 * directory on disk (backups in the tests are tens of MB), with the metadata
 * Cloudinary reports about a resource kept in `objects`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ReceivedFile } from './request-body';

export interface StoredObject {
  publicId: string;
  resourceType: 'raw';
  /** Delivery type: upload, private or authenticated. */
  type: string;
  version: number;
  versionId: string;
  assetId: string;
  bytes: number;
  /** MD5 hex of the content, as Cloudinary's etag. */
  etag: string;
  /** The content, on disk. */
  path: string;
  createdAt: string;
  assetFolder: string;
  originalFilename: string;
  /** Requests the upload took: 1, or the number of chunks. */
  parts: number;
}

export interface ChunkRange {
  start: number;
  end: number;
}

interface ChunkSession {
  parts: Map<number, { end: number; path: string }>;
  bytes: number;
}

/** Chunks do not cover 0..total-1 when the last one arrives. */
export class IncompleteUploadError extends Error {}

export class ObjectStore {
  readonly objects = new Map<string, StoredObject>();
  private readonly sessions = new Map<string, ChunkSession>();
  private lastVersion = 0;
  private sequence = 0;

  private constructor(readonly dir: string) {}

  static async create(): Promise<ObjectStore> {
    const dir = await mkdtemp(path.join(tmpdir(), 'kiln-fake-cloudinary-'));
    await mkdir(path.join(dir, 'objects'));
    await mkdir(path.join(dir, 'incoming'));
    return new ObjectStore(dir);
  }

  tempPath(): string {
    this.sequence += 1;
    return path.join(this.dir, 'incoming', `${process.pid}-${this.sequence}`);
  }

  /** Looks a resource up as Cloudinary does: by resource type, delivery type and public_id. */
  find(publicId: string, type: string): StoredObject | undefined {
    const found = this.objects.get(publicId);
    return found && found.type === type ? found : undefined;
  }

  /** Moves a received file into place as the new version of `publicId`. */
  async put(
    publicId: string,
    type: string,
    file: Omit<ReceivedFile, 'filename'>,
    meta: { assetFolder: string; originalFilename: string; parts: number; now: number },
  ): Promise<StoredObject> {
    const target = path.join(this.dir, 'objects', createHash('sha1').update(publicId).digest('hex'));
    await rename(file.path, target);
    // Cloudinary's version is the upload time in seconds; kept increasing so a
    // quick re-upload is still told apart.
    this.lastVersion = Math.max(meta.now, this.lastVersion + 1);
    const previous = this.objects.get(publicId);
    const stored: StoredObject = {
      publicId,
      resourceType: 'raw',
      type,
      version: this.lastVersion,
      versionId: randomBytes(16).toString('hex'),
      assetId: previous?.assetId ?? randomBytes(16).toString('hex'),
      bytes: file.bytes,
      etag: file.md5,
      path: target,
      createdAt: new Date(meta.now * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      assetFolder: meta.assetFolder,
      originalFilename: meta.originalFilename,
      parts: meta.parts,
    };
    this.objects.set(publicId, stored);
    return stored;
  }

  async remove(publicId: string, type: string): Promise<boolean> {
    const found = this.find(publicId, type);
    if (!found) return false;
    this.objects.delete(publicId);
    await rm(found.path, { force: true });
    return true;
  }

  /** Keeps one chunk of an upload (a retried chunk replaces the earlier copy); returns the bytes held so far. */
  async addChunk(uploadId: string, range: ChunkRange, file: ReceivedFile): Promise<number> {
    let session = this.sessions.get(uploadId);
    if (!session) {
      session = { parts: new Map(), bytes: 0 };
      this.sessions.set(uploadId, session);
    }
    const partPath = path.join(this.dir, 'incoming', `chunk-${createHash('sha1').update(uploadId).digest('hex')}-${range.start}`);
    await rename(file.path, partPath);
    const replaced = session.parts.get(range.start);
    if (replaced) session.bytes -= replaced.end - range.start + 1;
    session.parts.set(range.start, { end: range.end, path: partPath });
    session.bytes += range.end - range.start + 1;
    return session.bytes;
  }

  hasSession(uploadId: string): boolean {
    return this.sessions.has(uploadId);
  }

  /** Joins the chunks of a finished upload into one file; the session is gone afterwards. */
  async assemble(uploadId: string, total: number): Promise<Omit<ReceivedFile, 'filename'> & { parts: number }> {
    const session = this.sessions.get(uploadId);
    if (!session) throw new IncompleteUploadError('Unknown upload');
    const starts = [...session.parts.keys()].sort((a, b) => a - b);
    let expected = 0;
    for (const start of starts) {
      if (start !== expected) throw new IncompleteUploadError(`Chunks missing at byte ${expected}`);
      expected = (session.parts.get(start)?.end ?? start) + 1;
    }
    if (expected !== total) throw new IncompleteUploadError(`Chunks cover ${expected} of ${total} bytes`);

    const target = this.tempPath();
    const out = createWriteStream(target);
    const hash = createHash('md5');
    for (const start of starts) {
      for await (const chunk of createReadStream(session.parts.get(start)?.path ?? '')) {
        hash.update(chunk as Buffer);
        if (!out.write(chunk)) await once(out, 'drain');
      }
    }
    out.end();
    await once(out, 'finish');
    await this.dropSession(uploadId);
    return { path: target, bytes: total, md5: hash.digest('hex'), parts: starts.length };
  }

  /** Removes a received file that will not be kept. */
  async discard(filePath: string): Promise<void> {
    await rm(filePath, { force: true });
  }

  async dropSession(uploadId: string): Promise<void> {
    const session = this.sessions.get(uploadId);
    this.sessions.delete(uploadId);
    for (const part of session?.parts.values() ?? []) await rm(part.path, { force: true });
  }

  async destroy(): Promise<void> {
    this.objects.clear();
    this.sessions.clear();
    await rm(this.dir, { recursive: true, force: true });
  }
}
