import { SingleBar } from 'cli-progress';
import { CliError, ExitCode } from './exit-codes';
import type { Gateway } from './gateway';
import { FINISHED_STATUSES, type JobKind, type JobStatus } from '../jobs/job.enums';
import type { ProgressSnapshot } from '../jobs/progress-meter';

export const JOB_FIELDS = 'id kind status phase table percent rowsDone rowsTotal bytesDone etaSeconds message error errorCode backup { id filename }';

/** A job as JOB_FIELDS selects it: the progress meter's snapshot and the job's outcome. */
export interface JobState extends ProgressSnapshot {
  id: string;
  kind: JobKind;
  status: JobStatus;
  message: string | null;
  error: string | null;
  errorCode: string | null;
  backup: { id: string; filename: string } | null;
}

/** tty: one bar redrawn in place; lines: a line when the phase, table or a 5 % step changes; json: every event, one JSON object a line. */
export type ProgressOutput = 'tty' | 'lines' | 'json';
export const progressOutput = (json?: boolean): ProgressOutput => (json ? 'json' : process.stdout.isTTY ? 'tty' : 'lines');

/**
 * Follows a job over jobProgress to its end (the gateway sends its current state first), showing
 * its progress; resolves with the final state. Ctrl-C stops following, never the job: the CLI
 * says how to follow it again and ends with 130.
 */
export async function followJob(gateway: Gateway, jobId: string, output: ProgressOutput): Promise<JobState> {
  const socket = gateway.socket();
  const show = progressView(output);
  let onInterrupt!: () => void;
  const interrupted = new Promise<never>((_, reject) => {
    onInterrupt = () => reject(new CliError(`stopped following job ${jobId}; it keeps running on the gateway: kiln jobs watch ${jobId}`, ExitCode.INTERRUPTED));
    process.once('SIGINT', onInterrupt);
  });
  const follow = async (): Promise<JobState> => {
    for await (const result of socket.iterate<{ jobProgress: JobState }>({ query: `subscription($id: ID) { jobProgress(jobId: $id) { ${JOB_FIELDS} } }`, variables: { id: jobId } })) {
      if (result.errors?.length) throw new CliError(`${result.errors[0].extensions?.code ?? 'INTERNAL'}: ${result.errors[0].message}`);
      const job = result.data!.jobProgress;
      show.update(job);
      if (FINISHED_STATUSES.has(job.status)) return job;
    }
    throw new CliError(`the gateway stopped sending the progress of job ${jobId}: kiln jobs watch ${jobId}`);
  };
  try {
    return await Promise.race([follow(), interrupted]);
  } catch (err) {
    // A socket closed by the gateway (a revoked or expired session) arrives as a close event.
    if (err instanceof CliError) throw err;
    // graphql-ws rejects with the socket's close event (or error event) when it gives up.
    const { code, reason } = (err ?? {}) as { code?: number; reason?: string };
    if (code === 4401 || code === 4403) throw new CliError(`the gateway closed the connection (${code} ${reason})`, ExitCode.UNAUTHENTICATED);
    throw new CliError(`lost the connection to the gateway at ${gateway.url}${code ? ` (${code}${reason ? ` ${reason}` : ''})` : ''}: kiln jobs watch ${jobId}`, ExitCode.UNREACHABLE);
  } finally {
    show.stop();
    process.off('SIGINT', onInterrupt);
    await socket.dispose();
  }
}

/** Ends with the job's outcome: a failed or cancelled job is exit code 1, with its reason. */
export function assertCompleted(job: JobState): JobState {
  if (job.status !== 'COMPLETED') throw new CliError(`${job.kind} job ${job.id} ${job.status}: ${job.errorCode ? `${job.errorCode}: ` : ''}${job.error ?? job.message ?? 'no reason recorded'}`);
  return job;
}

/** Shows a job's successive states as `output` asks; stop() ends a drawn bar. */
export function progressView(output: ProgressOutput): { update(job: JobState): void; stop(): void } {
  if (output === 'json') return { update: (job) => process.stdout.write(`${JSON.stringify(job)}\n`), stop: () => undefined };
  if (output === 'lines') {
    let last = '';
    return {
      update: (job) => {
        const step = `${job.status} ${job.phase} ${job.table} ${Math.floor(job.percent / 5)}`;
        if (step === last && !FINISHED_STATUSES.has(job.status)) return;
        last = step;
        process.stdout.write(`${describe(job)}\n`);
      },
      stop: () => undefined,
    };
  }
  const bar = new SingleBar({
    format: '{kind} {status} {phase} {table} [{bar}] {percentage}% | {rows} rows | {bytes} | ETA {eta_text}',
    hideCursor: true,
    clearOnComplete: false,
    stream: process.stdout,
  });
  let started = false;
  return {
    update: (job) => {
      const values = {
        kind: job.kind,
        status: job.status,
        phase: job.phase ?? '',
        table: job.table ?? '',
        rows: job.rowsDone.toLocaleString('en'),
        bytes: megabytes(job.bytesDone),
        eta_text: job.etaSeconds == null ? '-' : `${Math.round(job.etaSeconds)} s`,
      };
      if (!started) bar.start(100, job.percent, values);
      else bar.update(job.percent, values);
      started = true;
    },
    stop: () => started && bar.stop(),
  };
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** One line for a job's state, as `lines` output and final messages print it. */
export function describe(job: JobState): string {
  const parts = [`${job.kind} ${job.id} ${job.status}`, `${job.percent.toFixed(0)}%`];
  if (job.phase) parts.push(`phase ${job.phase}`);
  if (job.table) parts.push(`table ${job.table}`);
  parts.push(`${job.rowsDone.toLocaleString('en')}${job.rowsTotal ? ` of ${job.rowsTotal.toLocaleString('en')}` : ''} rows`, megabytes(job.bytesDone));
  if (job.etaSeconds != null && job.status === 'RUNNING') parts.push(`ETA ${Math.round(job.etaSeconds)} s`);
  if (job.status === 'FAILED' || job.status === 'CANCELLED') parts.push(`${job.errorCode ?? ''} ${job.error ?? ''}`.trim());
  else if (job.message) parts.push(job.message);
  return parts.join(', ');
}
