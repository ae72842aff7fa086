import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '../src/logging/logger';
import { CloudinaryStorageDriver } from '../src/storage/cloudinary-storage.driver';
import { startCloudinaryServer } from '../test/support/cloudinary/cloudinary-server';
import { mb, ratio, seconds, type BenchContext, type ReportLine } from './bench-report';

const FILE_BYTES = 100 * 1024 * 1024;

/**
 * CLOUD line (issue #5): a 100 MB backup-sized file uploaded in chunks through Kiln's
 * Cloudinary driver to the local Cloudinary stand-in, and downloaded back, against a
 * plain local file copy of the same bytes in the same run (the reference).
 */
export async function measureCloud(ctx: BenchContext): Promise<ReportLine[]> {
  const source = path.join(ctx.workDir, 'cloud-bench.bin');
  // Random bytes: what an encrypted or gzipped backup looks like to the wire.
  await writeFile(source, randomBytes(FILE_BYTES));
  const cloud = await startCloudinaryServer();
  try {
    const copyStart = performance.now();
    await pipeline(createReadStream(source), createWriteStream(path.join(ctx.workDir, 'cloud-bench.copy')));
    const copySeconds = (performance.now() - copyStart) / 1000;

    const driver = new CloudinaryStorageDriver(
      {
        cloudName: cloud.cloudName,
        apiKey: cloud.apiKey,
        apiSecret: cloud.apiSecret,
        uploadPrefix: cloud.url,
        folder: 'bench',
        retryAttempts: 1,
        timeoutMs: 300_000,
        chunkBytes: 20 * 1024 * 1024,
      },
      createLogger('silent'),
    );
    const uploadStart = performance.now();
    const copy = await driver.put('cloud-bench.bin', async () => createReadStream(source), { tempTag: 'bench', expectedBytes: FILE_BYTES });
    const uploadSeconds = (performance.now() - uploadStart) / 1000;

    const downloadStart = performance.now();
    let downloaded = 0;
    await pipeline(
      await driver.get(copy.key),
      new Writable({
        write(chunk: Buffer, _enc, done) {
          downloaded += chunk.length;
          done();
        },
      }),
    );
    const downloadSeconds = (performance.now() - downloadStart) / 1000;
    driver.close();
    const chunks = cloud.requests.filter((r) => r.endpoint === 'upload').length;
    const rate = (s: number) => `${((FILE_BYTES / 1e6) / s).toFixed(0)} MB/s`;
    return [
      { metric: 'CLOUD upload (local Cloudinary stand-in)', value: `${mb((await stat(source)).size)} in ${seconds(uploadSeconds)}`, target: `${rate(uploadSeconds)}, ${chunks} chunks` },
      { metric: 'CLOUD download (signed URL)', value: `${mb(downloaded)} in ${seconds(downloadSeconds)}`, target: rate(downloadSeconds), verdict: downloaded === FILE_BYTES ? undefined : 'MISS' },
      { metric: 'reference: local file copy', value: seconds(copySeconds), target: `upload/copy ${ratio(uploadSeconds / copySeconds)}` },
    ];
  } finally {
    await cloud.close();
  }
}
