import type { Command } from 'commander';
import { downloadBackup } from './download';
import { restore, type RestoreOptions } from './restore';
import { CliError, ExitCode } from './exit-codes';
import { positiveInteger } from './option-values';
import { Gateway, type GatewayOptions } from './gateway';
import { assertCompleted, describe, followJob, JOB_FIELDS, progressOutput, type JobState } from './job-follower';

type Json = { json?: boolean };

/** The commands that talk to a running gateway (--url or KILN_URL; KILN_TOKEN or --email). */
export function registerGatewayCommands(program: Command): void {
  const command = (spec: string, description: string) =>
    program
      .command(spec)
      .description(description)
      .option('--url <url>', 'the gateway (default KILN_URL, else http://127.0.0.1:4000)')
      .option('--email <email>', 'sign in as this admin, the password asked without echo or read from stdin (default KILN_EMAIL; KILN_TOKEN wins)');

  command('status', 'health, maintenance mode, running jobs and the next scheduled run')
    .option('--json', 'one JSON object')
    .action(async (options: GatewayOptions & Json) => {
      const gateway = await Gateway.connect(options);
      const status = await gateway.query<StatusData>(STATUS);
      if (options.json) return print(JSON.stringify(status));
      const h = status.backupHealth;
      const m = status.maintenanceMode;
      print(
        [
          `gateway      ${gateway.url}`,
          `health       ${h.healthy ? 'healthy' : `${h.problems.length} problem(s)`}`,
          ...h.problems.map((p) => `  - ${p}`),
          `backups      ${h.totalBackups}, last good ${h.lastSuccessfulBackupAt ?? 'never'}, last failed ${h.lastFailedBackupAt ?? 'never'}`,
          `next run     ${status.backupSchedule.frequency === 'DISABLED' ? 'schedule disabled' : (h.nextScheduledAt ?? 'none')}`,
          `maintenance  ${m.enabled ? `ON since ${m.since}${m.reason ? `: ${m.reason}` : ''}` : 'off'}`,
          `jobs         ${status.jobs.length === 0 ? 'none running' : ''}`,
          ...status.jobs.map((j) => `  ${describe(j)}`),
        ].join('\n'),
      );
    });

  command('backups', 'the stored backups, newest first')
    .option('--type <type>', 'MANUAL, SCHEDULED, PRE_RESTORE or PRE_RESET')
    .option('--status <status>', 'COMPLETED, FAILED or IN_PROGRESS')
    .option('--location <location>', 'LOCAL, CLOUD or BOTH')
    .option('--origin <origin>', 'KILN or APP')
    .option('--limit <n>', 'how many', (v) => positiveInteger(v, '--limit'), 20)
    .option('--json', 'one JSON object a backup')
    .action(async (options: GatewayOptions & Json & { type?: string; status?: string; location?: string; origin?: string; limit: number }) => {
      const gateway = await Gateway.connect(options);
      const filter = { type: upper(options.type), status: upper(options.status), location: upper(options.location), origin: upper(options.origin) };
      const { backups } = await gateway.query<{ backups: { total: number; items: BackupRow[] } }>(BACKUPS, { filter, limit: options.limit });
      if (options.json) return print(backups.items.map((b) => JSON.stringify(b)).join('\n'));
      print(
        [
          `${backups.items.length} of ${backups.total}`,
          ...backups.items.map((b) => `${b.id}  ${b.createdAt}  ${b.type.padEnd(11)} ${b.status.padEnd(11)} ${b.location.padEnd(5)} ${String(b.fileSize).padStart(12)} B  ${b.filename}`),
        ].join('\n'),
      );
    });

  command('backup', 'start a backup; with --wait, follow it to its end')
    .option('--location <location>', 'LOCAL, CLOUD or BOTH', 'LOCAL')
    .option('--audit-logs', 'include the audit log')
    .option('--sessions', 'include staff sessions')
    .option('--wait', 'follow its progress until it ends (exit 1 if it fails)')
    .option('--json', 'JSON lines')
    .action(async (options: GatewayOptions & Json & { location: string; auditLogs?: boolean; sessions?: boolean; wait?: boolean }) => {
      const gateway = await Gateway.connect(options);
      const input = { location: upper(options.location), includeAuditLogs: options.auditLogs === true, includeSessions: options.sessions === true };
      const { createBackup } = await gateway.query<{ createBackup: JobState }>(`mutation($input: CreateBackupInput) { createBackup(input: $input) { ${JOB_FIELDS} } }`, { input });
      await started(gateway, createBackup, options);
    });

  command('verify <id>', 'check a stored backup; --drill also restores it into a scratch schema and compares')
    .option('--drill', 'with a restore drill')
    .option('--wait', 'follow it until it ends (exit 1 if a check fails)')
    .option('--json', 'JSON lines')
    .action(async (id: string, options: GatewayOptions & Json & { drill?: boolean; wait?: boolean }) => {
      const gateway = await Gateway.connect(options);
      const { verifyBackup } = await gateway.query<{ verifyBackup: JobState }>(`mutation($id: ID!, $drill: Boolean) { verifyBackup(id: $id, restoreDrill: $drill) { ${JOB_FIELDS} } }`, {
        id,
        drill: options.drill === true,
      });
      const job = await started(gateway, verifyBackup, options);
      if (job && options.wait) {
        const { job: checked } = await gateway.query<{ job: { verification: { ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string | null }> } | null } }>(
          'query($id: ID!) { job(id: $id) { verification { ok checks { name ok detail } } } }',
          { id: job.id },
        );
        const report = checked.verification;
        if (!options.json && report) print(report.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? `: ${c.detail}` : ''}`).join('\n'));
        if (report && !report.ok) throw new CliError(`backup ${id} failed verification`);
      }
    });

  const jobs = program.command('jobs').description('long-running operations');
  jobs
    .command('watch <id>')
    .description('follow a job to its end (Ctrl-C stops following, not the job)')
    .option('--url <url>', 'the gateway (default KILN_URL)')
    .option('--email <email>', 'sign in as this admin (default KILN_EMAIL; KILN_TOKEN wins)')
    .option('--json', 'JSON lines')
    .action(async (id: string, options: GatewayOptions & Json) => {
      const output = progressOutput(options.json);
      const job = assertCompleted(await followJob(await Gateway.connect(options), id, output));
      if (output === 'tty') print(describe(job));
    });

  command('restore [id]', 'replace the lending data with a stored backup (id) or a file (--file); asks for the file name unless --yes')
    .option('--file <path>', 'a backup file from this machine (uploaded)')
    .option('--maintenance', 'turn maintenance mode on first and off afterwards')
    .option('--yes', 'no question (for scripts)')
    .option('--allow-unsigned', 'restore a file whose Kiln signature does not verify (an app backup, a file you trust)')
    .option('--json', 'JSON lines')
    .action(async (id: string | undefined, options: GatewayOptions & Json & RestoreOptions) => {
      const output = progressOutput(options.json);
      const job = await restore(await Gateway.connect(options), id, options, output);
      if (output === 'tty') print(describe(job));
      if (!options.json) print('Everybody, you included, must sign in again.');
    });

  command('download <id>', 'download a stored backup, resuming a cut-off download, checked against its recorded sha256')
    .option('-o, --output <path>', 'the file to write, or a folder to write it into (default: its file name, here)')
    .option('--json', 'JSON lines: progress, then the result')
    .action(async (id: string, options: GatewayOptions & Json & { output?: string }) => {
      const result = await downloadBackup(await Gateway.connect(options), id, options.output, progressOutput(options.json));
      print(options.json ? JSON.stringify(result) : `${result.path}: ${result.bytes.toLocaleString('en')} bytes, sha256 ${result.sha256} (${result.checked ? 'checked' : 'not checked: the gateway recorded none for this backup'})`);
    });

  const schedule = program.command('schedule').description('the backup schedule');
  const scheduleCommand = (spec: string, description: string) =>
    schedule
      .command(spec)
      .description(description)
      .option('--url <url>', 'the gateway (default KILN_URL)')
      .option('--email <email>', 'sign in as this admin (default KILN_EMAIL; KILN_TOKEN wins)')
      .option('--json', 'one JSON object');
  scheduleCommand('show', 'the schedule and its next five runs').action(async (options: GatewayOptions & Json) => {
    const answer = await (await Gateway.connect(options)).query<ScheduleData>(`{ backupSchedule { ${SCHEDULE_FIELDS} } nextBackupRuns(count: 5) { local } }`);
    print(options.json ? JSON.stringify(answer) : describeSchedule(answer));
  });
  scheduleCommand('set', 'change the schedule (only the options given); prints it with its next five runs')
    .option('--frequency <f>', 'DISABLED, HOURLY, DAILY, WEEKLY, MONTHLY or CUSTOM')
    .option('--cron <expression>', 'with CUSTOM: minute hour day month weekday')
    .option('--timezone <zone>', 'an IANA zone, e.g. Africa/Lagos')
    .option('--location <location>', 'LOCAL, CLOUD or BOTH')
    .option('--retention-days <n>', 'keep backups this many days', (v) => positiveInteger(v, '--retention-days'))
    .option('--keep-at-least <n>', 'never keep fewer completed backups', (v) => positiveInteger(v, '--keep-at-least'))
    .option('--audit-logs <yes|no>', 'include the audit log', yesNo)
    .option('--sessions <yes|no>', 'include staff sessions', yesNo)
    .action(async (options: GatewayOptions & Json & ScheduleSetOptions) => {
      const input = {
        frequency: upper(options.frequency),
        cron: options.cron,
        timezone: options.timezone,
        location: upper(options.location),
        retentionDays: options.retentionDays,
        keepAtLeast: options.keepAtLeast,
        includeAuditLogs: options.auditLogs,
        includeSessions: options.sessions,
      };
      if (Object.values(input).every((v) => v === undefined)) throw new CliError('nothing to change: give at least one option (kiln schedule set --help)', ExitCode.USAGE);
      const gateway = await Gateway.connect(options);
      await gateway.query(`mutation($input: BackupScheduleInput!) { updateBackupSchedule(input: $input) { frequency } }`, { input });
      const answer = await gateway.query<ScheduleData>(`{ backupSchedule { ${SCHEDULE_FIELDS} } nextBackupRuns(count: 5) { local } }`);
      print(options.json ? JSON.stringify(answer) : describeSchedule(answer));
    });

  command('cancel <id>', 'ask a running job to stop')
    .action(async (id: string, options: GatewayOptions) => {
      const { cancelJob } = await (await Gateway.connect(options)).query<{ cancelJob: JobState }>(`mutation($id: ID!) { cancelJob(id: $id) { ${JOB_FIELDS} } }`, { id });
      print(describe(cancelJob));
    });

  command('maintenance <state>', 'turn maintenance mode on or off (restore and reset need it on)')
    .option('--reason <text>', 'what the lending app shows its users')
    .action(async (state: string, options: GatewayOptions & { reason?: string }) => {
      if (state !== 'on' && state !== 'off') throw new CliError(`maintenance takes on or off, not ${JSON.stringify(state)}`, ExitCode.USAGE);
      const { setMaintenanceMode: m } = await (await Gateway.connect(options)).query<{ setMaintenanceMode: { enabled: boolean; reason: string | null } }>(
        'mutation($on: Boolean!, $reason: String) { setMaintenanceMode(enabled: $on, reason: $reason) { enabled reason } }',
        { on: state === 'on', reason: options.reason ?? null },
      );
      print(`maintenance ${m.enabled ? 'ON' : 'off'}${m.reason ? `: ${m.reason}` : ''}`);
    });

  command('delete <id>', 'delete a stored backup from every location')
    .action(async (id: string, options: GatewayOptions) => {
      await (await Gateway.connect(options)).query('mutation($id: ID!) { deleteBackup(id: $id) }', { id });
      print(`backup ${id} deleted`);
    });
}

/** A job just started: its id, or with --wait its whole run (exit 1 unless it completes). */
async function started(gateway: Gateway, job: JobState, options: Json & { wait?: boolean }): Promise<JobState | undefined> {
  if (!options.wait) {
    print(options.json ? JSON.stringify(job) : `${job.kind} job ${job.id} started${job.backup ? ` (backup ${job.backup.id})` : ''}: kiln jobs watch ${job.id}`);
    return undefined;
  }
  const output = progressOutput(options.json);
  const done = assertCompleted(await followJob(gateway, job.id, output));
  // Lines and JSON have shown the end already; a bar needs its words.
  if (output === 'tty') print(describe(done));
  return done;
}

const print = (text: string) => void process.stdout.write(`${text}\n`);
const upper = (v: string | undefined) => v?.toUpperCase();

interface BackupRow {
  id: string;
  filename: string;
  type: string;
  status: string;
  location: string;
  origin: string;
  createdAt: string;
  fileSize: number;
}

interface StatusData {
  backupHealth: { healthy: boolean; problems: string[]; lastSuccessfulBackupAt: string | null; lastFailedBackupAt: string | null; nextScheduledAt: string | null; totalBackups: number };
  maintenanceMode: { enabled: boolean; reason: string | null; since: string | null };
  backupSchedule: { frequency: string };
  jobs: JobState[];
}

const STATUS = `{
  backupHealth { healthy problems lastSuccessfulBackupAt lastFailedBackupAt nextScheduledAt totalBackups }
  maintenanceMode { enabled reason since }
  backupSchedule { frequency }
  jobs(status: RUNNING) { ${JOB_FIELDS} }
}`;

const BACKUPS = `query($filter: BackupFilter, $limit: Int) {
  backups(filter: $filter, limit: $limit) { total items { id filename type status location origin createdAt fileSize } }
}`;

const SCHEDULE_FIELDS = 'frequency cron timezone location retentionDays keepAtLeast includeAuditLogs includeSessions lastBackupAt nextBackupAt warnings';

interface ScheduleData {
  backupSchedule: {
    frequency: string;
    cron: string | null;
    timezone: string;
    location: string;
    retentionDays: number;
    keepAtLeast: number;
    includeAuditLogs: boolean;
    includeSessions: boolean;
    lastBackupAt: string | null;
    warnings: string[];
  };
  nextBackupRuns: Array<{ local: string }>;
}

interface ScheduleSetOptions {
  frequency?: string;
  cron?: string;
  timezone?: string;
  location?: string;
  retentionDays?: number;
  keepAtLeast?: number;
  auditLogs?: boolean;
  sessions?: boolean;
}

function describeSchedule({ backupSchedule: b, nextBackupRuns: runs }: ScheduleData): string {
  return [
    `frequency   ${b.frequency}${b.cron ? ` (${b.cron})` : ''} in ${b.timezone}`,
    `location    ${b.location}; includes ${[b.includeAuditLogs && 'audit logs', b.includeSessions && 'staff sessions'].filter(Boolean).join(' and ') || 'neither audit logs nor staff sessions'}`,
    `retention   ${b.retentionDays} days, at least ${b.keepAtLeast} kept`,
    `last run    ${b.lastBackupAt ?? 'never'}`,
    ...b.warnings.map((w) => `warning     ${w}`),
    `next runs   ${runs.length === 0 ? 'none' : runs[0].local}`,
    ...runs.slice(1).map((r) => `            ${r.local}`),
  ].join('\n');
}

function yesNo(value: string): boolean {
  if (/^(yes|true|on)$/i.test(value)) return true;
  if (/^(no|false|off)$/i.test(value)) return false;
  throw new CliError(`expected yes or no, not ${JSON.stringify(value)}`, ExitCode.USAGE);
}
