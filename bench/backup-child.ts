/**
 * One Kiln backup in a process of its own, so maxRSS is the gateway's and the backup's alone.
 * Configured by the environment like `npm start` (DATABASE_URL, JWT_SECRET, BACKUP_DIR, ...).
 * With BENCH_KEEP_BACKUP=1 the file and its record stay (for the restore measurement to restore);
 * else both go again. Reports a {@link BackupChildResult} over IPC when forked, else as one JSON
 * line on stdout (so it can be run by hand, e.g. under `node --cpu-prof`).
 */
import 'reflect-metadata';
import '../src/config/utc';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BackupLocation, BackupStatus, BackupType } from '../src/backup/backup.enums';
import { loadConfig } from '../src/config/config';
import { startKiln } from '../src/kiln';
import { createLogger } from '../src/logging/logger';
import { failure, reportAndExit, type ChildResult } from './bench-child';

export type BackupChildResult = ChildResult<{
  seconds: number;
  cpuSeconds: number;
  bytes: number;
  compressed: boolean;
  rows: number;
  /** Peak RSS in KB once the gateway had started, before the backup. */
  startedRssKb: number;
  /** Peak RSS in KB over the whole process, backup included. */
  maxRssKb: number;
  /** The kept backup (BENCH_KEEP_BACKUP=1), else null: the file and record were deleted. */
  keptBackupId: string | null;
}>;

async function backupOnce(): Promise<BackupChildResult> {
  const config = loadConfig();
  const keep = process.env.BENCH_KEEP_BACKUP === '1';
  const kiln = await startKiln(config, createLogger(config.log.level));
  try {
    const startedRssKb = process.resourceUsage().maxRSS;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const job = await kiln.services.backups.create(
      { includeAuditLogs: true, includeSessions: true, location: BackupLocation.LOCAL },
      BackupType.MANUAL,
      null,
    );
    await kiln.services.jobs.settled(job.id);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const record = await kiln.services.backups.get(job.backupId!);
    if (record?.status !== BackupStatus.COMPLETED) {
      return { ok: false, error: `backup ended ${record?.status ?? 'without a record'}: ${record?.error ?? ''}` };
    }
    if (!keep) {
      // The bench database only lends its data: the file and the record go again.
      if (record.localPath) await rm(path.join(config.backup.dir, path.basename(record.localPath)), { force: true });
      await kiln.services.backups.records.delete(record.id);
    }
    return {
      ok: true,
      seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      bytes: Number(record.fileSize),
      compressed: record.compressed,
      rows: Object.values(record.recordCounts ?? {}).reduce((a, b) => a + b, 0),
      startedRssKb,
      maxRssKb: process.resourceUsage().maxRSS,
      keptBackupId: keep ? record.id : null,
    };
  } finally {
    await kiln.close();
  }
}

backupOnce().then(reportAndExit, (err: unknown) => reportAndExit(failure(err)));
