import { useMemo } from 'preact/hooks';
import { useMutation, useQuery, useSubscription } from '@urql/preact';
import { CANCEL_JOB, JOBS, JOB_PROGRESS } from '../api/operations';
import { problemOf } from '../api/errors';
import { bytes, count, duration } from './format';
import { Problem, ProgressBar, Time } from './parts';

export interface Job {
  id: string;
  kind: 'BACKUP' | 'RESTORE' | 'VERIFY' | 'RESET' | 'RETENTION' | 'DRILL';
  status: 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  phase: string | null;
  table: string | null;
  percent: number;
  rowsDone: number;
  rowsTotal: number | null;
  bytesDone: number;
  etaSeconds: number | null;
  message: string | null;
  error: string | null;
  errorCode: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  requestedBy: { email: string } | null;
  backup: { id: string; filename: string } | null;
  verification: { ok: boolean; checks: { name: string; ok: boolean; detail: string | null }[] } | null;
}

const active = (job: Job) => job.status === 'QUEUED' || job.status === 'RUNNING';

/** The last jobs, kept live by jobProgress (every job's changes, from every instance). */
export function useLiveJobs(): { jobs: Job[]; problem: ReturnType<typeof problemOf> } {
  const [listed] = useQuery<{ jobs: Job[] }>({ query: JOBS });
  const [live] = useSubscription<{ jobProgress: Job }, Record<string, Job>>({ query: JOB_PROGRESS }, (seen = {}, event) => ({
    ...seen,
    [event.jobProgress.id]: event.jobProgress,
  }));
  const jobs = useMemo(() => {
    const byId = new Map((listed.data?.jobs ?? []).map((j) => [j.id, j]));
    for (const job of Object.values(live.data ?? {})) byId.set(job.id, job);
    return [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }, [listed.data, live.data]);
  return { jobs, problem: problemOf(listed.error) ?? problemOf(live.error) };
}

const FINAL_WORDS: Record<string, string> = {
  RESTORE: 'The restore replaced the data and ended every session, yours included: everybody must sign in again.',
  RESET: 'The reset emptied the data and ended every session, yours included: sign in again with the super admin account.',
};

export function JobCard({ job, zone }: { job: Job; zone?: string }) {
  const [cancel, cancelJob] = useMutation(CANCEL_JOB);
  return (
    <article class={`job job-${job.status.toLowerCase()}`} aria-label={`${job.kind} job ${job.status}`} data-job-id={job.id}>
      <header>
        <strong>{job.kind}</strong> <span class={`status status-${job.status.toLowerCase()}`}>{job.status}</span>
        {job.backup && <code class="filename">{job.backup.filename}</code>}
        <Time iso={job.createdAt} zone={zone} />
        {active(job) && (
          <button type="button" class="small" disabled={cancel.fetching} onClick={() => void cancelJob({ id: job.id })}>
            Cancel
          </button>
        )}
      </header>
      {(active(job) || job.status === 'COMPLETED') && <ProgressBar percent={job.percent} label={`${job.kind} progress`} />}
      {active(job) && (
        <>
          <p class="job-detail">
            {job.phase && <span>Phase: <b class="phase">{job.phase}</b></span>}
            {job.table && <span>Table: {job.table}</span>}
            <span>
              Rows: {count(job.rowsDone)}
              {job.rowsTotal != null && ` of ${count(job.rowsTotal)}`}
            </span>
            <span>Bytes: {bytes(job.bytesDone)}</span>
            <span>ETA: {duration(job.etaSeconds)}</span>
          </p>
        </>
      )}
      {job.status === 'COMPLETED' && (
        <p class="job-detail">
          {job.message}
          {FINAL_WORDS[job.kind] && <strong class="notice"> {FINAL_WORDS[job.kind]}</strong>}
        </p>
      )}
      {job.verification && (
        <ul class={`checks ${job.verification.ok ? 'ok' : 'bad'}`} aria-label="Verification">
          {job.verification.checks.map((c) => (
            <li key={c.name}>
              {c.ok ? '✔' : '✘'} {c.name}
              {c.detail && <small> {c.detail}</small>}
            </li>
          ))}
        </ul>
      )}
      {(job.status === 'FAILED' || job.status === 'CANCELLED') && (
        <Problem problem={{ code: job.errorCode ?? job.status, message: job.error ?? job.message ?? 'No reason recorded' }} />
      )}
      <Problem problem={problemOf(cancel.error)} />
    </article>
  );
}

/** Running jobs first, then the last finished ones. */
export function JobList({ jobs, limit = 20, zone }: { jobs: Job[]; limit?: number; zone?: string }) {
  if (jobs.length === 0) return <p class="muted">No jobs yet.</p>;
  const ordered = [...jobs.filter(active), ...jobs.filter((j) => !active(j))].slice(0, limit);
  return (
    <div class="jobs">
      {ordered.map((job) => (
        <JobCard key={job.id} job={job} zone={zone} />
      ))}
    </div>
  );
}
