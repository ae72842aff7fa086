import { BackupOrigin, BackupStatus, BackupType } from './backup.enums';
import type { BackupRecord } from './records/backup-record';
import type { BackupRecordStore } from './records/backup-record.store';

/** A completed backup that looks wrong next to the one before it with the same options. */
export interface BackupAnomaly {
  backupId: string;
  filename: string;
  type: string;
  /** The file's size: backups with the same options compress alike, so their sizes compare. */
  dataBytes: number;
  previousBackupId: string | null;
  previousDataBytes: number | null;
  /** Human-readable, one finding each. */
  reasons: string[];
}

// Far enough back to find the previous backup with the same options among safety and app backups.
const LOOK_BACK = 50;
const COMPARED_TYPES: ReadonlySet<BackupType> = new Set([BackupType.MANUAL, BackupType.SCHEDULED]);

/**
 * Size and content anomalies (the seed's "not empty or suspiciously small"): a MANUAL or SCHEDULED
 * backup whose file is under `ratio` of the previous completed one with the same options (tables,
 * compression, encryption), or in which a table that had rows has none. Read from the records, so
 * every instance finds the same.
 */
export class BackupAnomalies {
  constructor(
    private readonly records: BackupRecordStore,
    private readonly ratio: number,
  ) {}

  /** The anomaly of one backup (just completed), or null when it looks like its predecessor. */
  async of(backupId: string): Promise<BackupAnomaly | null> {
    const recent = await this.recent();
    const at = recent.findIndex((r) => r.id === backupId);
    return at < 0 ? null : this.compare(recent[at], recent.slice(at + 1));
  }

  /** The newest compared backup's anomaly, for health: it clears once a normal backup follows. */
  async newest(): Promise<BackupAnomaly | null> {
    const recent = await this.recent();
    return recent.length ? this.compare(recent[0], recent.slice(1)) : null;
  }

  private async recent(): Promise<BackupRecord[]> {
    const { items } = await this.records.list({ status: BackupStatus.COMPLETED, origin: BackupOrigin.KILN }, LOOK_BACK, 0);
    return items.filter((r) => COMPARED_TYPES.has(r.type) && r.recordCounts);
  }

  private compare(backup: BackupRecord, older: BackupRecord[]): BackupAnomaly | null {
    const previous = older.find((r) => sameOptions(r, backup));
    if (!previous) return null;
    const reasons: string[] = [];
    if (previous.fileSize > 0 && backup.fileSize < this.ratio * previous.fileSize) {
      reasons.push(
        `its file is ${Math.round((100 * backup.fileSize) / previous.fileSize)}% of the previous backup with the same options (${previous.filename}, ${previous.fileSize.toLocaleString('en')} bytes; flagged under ${Math.round(this.ratio * 100)}%)`,
      );
    }
    for (const [table, rows] of Object.entries(previous.recordCounts!)) {
      if (rows > 0 && backup.recordCounts![table] === 0) reasons.push(`table ${table} had ${rows.toLocaleString('en')} rows in the previous backup and has none`);
    }
    if (reasons.length === 0) return null;
    return {
      backupId: backup.id,
      filename: backup.filename,
      type: backup.type,
      dataBytes: backup.fileSize,
      previousBackupId: previous.id,
      previousDataBytes: previous.fileSize,
      reasons,
    };
  }
}

const tablesOf = (r: BackupRecord) => Object.keys(r.recordCounts ?? {}).sort().join(',');
const sameOptions = (a: BackupRecord, b: BackupRecord) => a.compressed === b.compressed && a.encrypted === b.encrypted && tablesOf(a) === tablesOf(b);
