/**
 * Size and content anomalies: a completed backup compared with the previous one of the same
 * options. An emptied table and a file far smaller are flagged in health, in the log (with the job
 * id) and as backup.suspicious on a notification channel (a local Slack-compatible receiver); a
 * normal backup after it clears health; other options and safety backups are not compared.
 */
import { startReceiver, type Receiver } from './support/webhook-receiver';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, startTestKiln } from './support/test-kiln';
import { until } from './support/until';

const HEALTH = '{ backupHealth { problems } }';
let s: SeededKiln;
let slack: Receiver;
beforeAll(async () => {
  slack = await startReceiver('unused-by-slack-0123456789');
  s = await startSeededKiln(20, { NOTIFY_SLACK_WEBHOOK_URL: slack.url, BACKUP_WEBHOOK_BACKOFF_MS: '50' });
});
afterAll(async () => {
  await s?.close();
  await slack?.close();
});

const suspicious = async () => ((await gql(s.kiln.url, HEALTH, {}, s.token)).data!.backupHealth.problems as string[]).filter((p) => p.includes('looks suspicious'));
const backup = async (input: Record<string, unknown> = {}) => (await finishedJob(s, (await startBackup(s, input)).jobId)) as { id: string; backup: { id: string; filename: string } };

/** Copies a table's rows aside; the returned function puts exactly those back (tests here empty or thin tables). */
async function keepRows(table: string): Promise<() => Promise<void>> {
  const copy = `kept_${table}_${Date.now()}`;
  await s.db.query(`CREATE TEMP TABLE "${copy}" AS SELECT * FROM "${table}"`);
  return async () => {
    await s.db.query(`DELETE FROM "${table}"`);
    await s.db.query(`INSERT INTO "${table}" SELECT * FROM "${copy}"`);
    await s.db.query(`DROP TABLE "${copy}"`);
  };
}

it('flags a backup in which a table that had rows is empty: health, log and a notification; the next normal one clears health', async () => {
  // Puts the seeded notes back whatever happens, so other tests find them.
  const restoreNotes = await keepRows('UserNote');
  try {
    await backup();
    await backup();
    expect(await suspicious()).toEqual([]);

    const notes = Number((await s.db.query('SELECT count(*)::int AS n FROM "UserNote"')).rows[0].n);
    expect(notes).toBeGreaterThan(0);
    await s.db.query('DELETE FROM "UserNote"');
    const emptied = await backup();
    const problems = await suspicious();
    expect(problems).toEqual([expect.stringContaining(`The newest backup (${emptied.backup.filename}) looks suspicious: table UserNote had ${notes} rows in the previous backup and has none`)]);

    // Anonymous monitors learn that, not the file's name or the table's size.
    const monitor = (await (await fetch(`${s.kiln.url}/health/backups`)).json()) as { problems: string[]; problemCodes: string[] };
    expect(monitor.problemCodes).toContain('BACKUP_SUSPICIOUS');
    expect(monitor.problems).toContain('The newest backup looks suspicious (much smaller than the one before, or a table emptied)');
    expect(JSON.stringify(monitor)).not.toContain(emptied.backup.filename);

    const delivered = await until('the Slack message', async () => slack.deliveries.map((d) => String(d.body?.text ?? '')), (texts) => texts.some((t) => t.includes(emptied.backup.filename) && /suspicious/i.test(t)), 20_000, 50);
    expect(delivered.find((t) => t.includes(emptied.backup.filename) && /suspicious/i.test(t))).toMatch(/UserNote/);

    // The next backup with the same options is as small as this one: nothing new is wrong.
    await backup();
    expect(await suspicious()).toEqual([]);
  } finally {
    await restoreNotes();
  }
});

it('logs the finding with its job id', async () => {
  const lines: Array<Record<string, any>> = [];
  // Exactly the 5 notes made here, whatever notes earlier tests left; the seeded ones come back after.
  const restoreNotes = await keepRows('UserNote');
  const k = await startTestKiln({ DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir }, s.kiln.databaseUrl, lines);
  try {
    await s.db.query('DELETE FROM "UserNote"');
    await s.db.query(`INSERT INTO "UserNote" (id, "userId", title, content, "createdByUserId", "updatedAt") SELECT 'n-' || id, id, 'note', 'a note', id, now() FROM "User" LIMIT 5`);
    const run = async () => {
      const res = await gql(k.url, 'mutation { createBackup { id } }', {}, s.token);
      await k.services.jobs.settled(res.data!.createBackup.id);
      return res.data!.createBackup.id as string;
    };
    await run();
    await s.db.query('DELETE FROM "UserNote"');
    const jobId = await run();
    // Checked once the job has finished, in the background.
    const found = await until('the warning', async () => lines.find((l) => l.event === 'backup_suspicious'), (l) => l !== undefined, 10_000, 20);
    expect(found).toMatchObject({ level: 'warn', jobId, reasons: [expect.stringMatching(/^table UserNote had 5 rows/)] });
  } finally {
    await restoreNotes();
    await k.close();
  }
});

it('flags a file under the configured share of the previous one, and compares only backups with the same options', async () => {
  // The halved table comes back after, so no other test sees it thinned.
  const restoreAllocations = await keepRows('RepaymentAllocation');
  const strict = await startTestKiln({ BACKUP_SUSPICIOUS_RATIO: '0.999', DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir }, s.kiln.databaseUrl);
  try {
    const problems = async () => ((await gql(strict.url, HEALTH, {}, s.token)).data!.backupHealth.problems as string[]).filter((p) => p.includes('looks suspicious'));
    const run = async (input: Record<string, unknown> = {}) => {
      const res = await gql(strict.url, 'mutation($i: CreateBackupInput) { createBackup(input: $i) { id } }', { i: input }, s.token);
      await strict.services.jobs.settled(res.data!.createBackup.id);
    };
    await run();
    await s.db.query(`DELETE FROM "RepaymentAllocation" WHERE id IN (SELECT id FROM "RepaymentAllocation" ORDER BY id LIMIT (SELECT count(*) / 2 FROM "RepaymentAllocation"))`);
    // Other options (the audit trail in it): compared with nothing before it, so not flagged.
    await run({ includeAuditLogs: true });
    expect(await problems()).toEqual([]);
    await run();
    expect(await problems()).toEqual([expect.stringMatching(/looks suspicious: its file is \d+% of the previous backup with the same options \(.+, [\d,]+ bytes; flagged under 100%\)$/)]);
  } finally {
    await restoreAllocations();
    await strict.close();
  }
});
