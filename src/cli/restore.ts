import { openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { CliError, ExitCode } from './exit-codes';
import type { Gateway } from './gateway';
import { transferMeter } from './transfer-meter';
import { assertCompleted, followJob, JOB_FIELDS, type JobState, type ProgressOutput } from './job-follower';

export interface RestoreOptions {
  file?: string;
  maintenance?: boolean;
  yes?: boolean;
  allowUnsigned?: boolean;
}

const MAINTENANCE = 'mutation($on: Boolean!, $reason: String) { setMaintenanceMode(enabled: $on, reason: $reason) { enabled } }';

/**
 * Restores a stored backup (`id`) or a file from this machine, after a confirmation (the file's
 * name typed, or --yes), and follows the job to its end. With --maintenance, maintenance mode is
 * turned on first and off afterwards; the restore ends every session, so that takes a new sign-in
 * (with --email; with KILN_TOKEN the CLI says what to run).
 */
export async function restore(gateway: Gateway, id: string | undefined, options: RestoreOptions, output: ProgressOutput): Promise<JobState> {
  if ((id === undefined) === (options.file === undefined)) throw new CliError('give either a backup id or --file <path>', ExitCode.USAGE);
  let name: string;
  if (options.file) {
    if (!(await stat(options.file).catch(() => null))?.isFile()) throw new CliError(`${options.file}: no such file`);
    name = path.basename(options.file);
  } else {
    const { backup } = await gateway.query<{ backup: { filename: string } | null }>('query($id: ID!) { backup(id: $id) { filename } }', { id });
    if (!backup) throw new CliError(`NOT_FOUND: no backup ${id}`);
    name = backup.filename;
  }
  await confirm(name, gateway.url, options.yes === true);

  if (options.maintenance) await gateway.query(MAINTENANCE, { on: true, reason: `Restoring ${name} (kiln restore)` });
  let started: JobState;
  try {
    started = options.file
      ? await uploadForRestore(gateway, options.file, name, options.allowUnsigned === true, output)
      : (await gateway.query<{ restoreBackup: JobState }>(`mutation($id: ID!) { restoreBackup(id: $id) { ${JOB_FIELDS} } }`, { id })).restoreBackup;
  } catch (err) {
    // Refused before it started: nothing was restored, the lending app goes back to normal service.
    if (options.maintenance) await endMaintenance(gateway);
    throw err;
  }
  let job: JobState;
  try {
    job = await followJob(gateway, started.id, output);
  } catch (err) {
    // Not following any more (Ctrl-C, a lost connection) says nothing of the job: maintenance stays on.
    if (options.maintenance) process.stderr.write('kiln: maintenance mode stays on while the restore may still run: `kiln maintenance off` once it has ended\n');
    throw err;
  }
  if (options.maintenance) {
    // A completed restore ended every session, this one's too.
    const signedIn = job.status === 'COMPLETED' ? await gateway.signInAgain().catch(() => false) : true;
    if (signedIn) await endMaintenance(gateway);
    else process.stderr.write('kiln: the restore ended every session: sign in again and run `kiln maintenance off`\n');
  }
  return assertCompleted(job);
}

/** Sends the file (its progress shown as it goes) and returns the restore job the gateway started. */
async function uploadForRestore(gateway: Gateway, file: string, name: string, allowUnsigned: boolean, output: ProgressOutput): Promise<JobState> {
  const blob = await openAsBlob(file);
  const meter = transferMeter(output, 'upload', blob.size);
  try {
    const answer = await gateway.upload<{ restoreBackup: JobState }>(
      `mutation($file: Upload!, $allow: Boolean!) { restoreBackup(file: $file, allowUnsigned: $allow) { ${JOB_FIELDS} } }`,
      { allow: allowUnsigned },
      blob,
      name,
      (sent) => meter.update(sent),
    );
    return answer.restoreBackup;
  } finally {
    meter.end();
  }
}

/** Turns maintenance off, or says it could not: the restore's own outcome is what the exit code reports. */
async function endMaintenance(gateway: Gateway): Promise<void> {
  try {
    await gateway.query(MAINTENANCE, { on: false });
  } catch (err) {
    process.stderr.write(`kiln: maintenance mode is still on (${(err as Error).message}): run \`kiln maintenance off\`\n`);
  }
}

/** The admin types the file's name (or gave --yes); without a terminal to ask on, --yes is required. */
export async function confirm(name: string, url: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new CliError('a restore replaces all lending data: confirm with --yes when there is no terminal to ask on', ExitCode.USAGE);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const typed = await rl.question(`This replaces all lending data at ${url} with ${name} and signs everybody out.\nType the file name to confirm: `);
    if (typed.trim() !== name) throw new CliError('not confirmed: nothing was changed', ExitCode.FAILED);
  } finally {
    rl.close();
  }
}
