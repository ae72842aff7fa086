import { useEffect, useState } from 'preact/hooks';
import { useClient, useMutation, useQuery } from '@urql/preact';
import { problemOf, type ApiProblem } from '../api/errors';
import { BACKUPS, CREATE_BACKUP, DELETE_BACKUP, DOWNLOAD_URL, VERIFY_BACKUP } from '../api/operations';
import { bytes } from '../ui/format';
import { JobCard, type Job } from '../ui/jobs';
import { Field, Problem, Section, Time } from '../ui/parts';
import { navigate } from '../ui/route';

export interface BackupRow {
  id: string;
  filename: string;
  type: string;
  status: string;
  location: string;
  origin: string;
  createdAt: string;
  fileSize: number;
  compressed: boolean;
  encrypted: boolean;
  storedLocally: boolean;
  storedInCloud: boolean;
  cloudError: string | null;
  lastVerifiedAt: string | null;
  warnings: string[];
  error: string | null;
  createdBy: { email: string } | null;
}

const PAGE = 20;
// deleteBackup answers a Boolean: it says which cached lists it changes.
const DELETED = { additionalTypenames: ['Backup'] };
const FILTERS = {
  type: ['MANUAL', 'SCHEDULED', 'PRE_RESTORE', 'PRE_RESET'],
  status: ['COMPLETED', 'FAILED', 'IN_PROGRESS'],
  location: ['LOCAL', 'CLOUD', 'BOTH'],
  origin: ['KILN', 'APP'],
} as const;
type FilterKey = keyof typeof FILTERS;

export function Backups({ jobs }: { jobs: Job[] }) {
  const [filter, setFilter] = useState<Partial<Record<FilterKey, string>>>({});
  const [offset, setOffset] = useState(0);
  const [{ data, error, fetching }, refetch] = useQuery<{ backups: { total: number; items: BackupRow[] }; backupSchedule: { timezone: string } }>({
    query: BACKUPS,
    variables: { filter, limit: PAGE, offset },
  });
  // A job that ends changes the table (a backup completed, verified, deleted by retention): read it again.
  const finished = jobs.filter((j) => j.finishedAt).map((j) => j.id).join();
  useEffect(() => refetch({ requestPolicy: 'network-only' }), [finished, refetch]);
  const zone = data?.backupSchedule.timezone;
  const total = data?.backups.total ?? 0;

  return (
    <>
      <BackUpNow jobs={jobs} />
      <Section title="Stored backups">
        <form class="filters" aria-label="Filter backups" onSubmit={(e) => e.preventDefault()}>
          {(Object.keys(FILTERS) as FilterKey[]).map((key) => (
            <Field key={key} label={key[0].toUpperCase() + key.slice(1)}>
              <select
                name={key}
                value={filter[key] ?? ''}
                onChange={(e) => {
                  const value = e.currentTarget.value;
                  setFilter((f) => ({ ...f, [key]: value || undefined }));
                  setOffset(0);
                }}
              >
                <option value="">Any</option>
                {FILTERS[key].map((v) => (
                  <option key={v} value={v}>{v}</option>
                ))}
              </select>
            </Field>
          ))}
        </form>
        <Problem problem={problemOf(error)} />
        <div class="table-wrap">
          <table aria-label="Backups" aria-busy={fetching}>
            <thead>
              <tr>
                <th>Created</th>
                <th>Type</th>
                <th>Status</th>
                <th>Where</th>
                <th>Size</th>
                <th>Flags</th>
                <th>By</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {data?.backups.items.map((b) => <BackupLine key={b.id} backup={b} zone={zone} />)}
            </tbody>
          </table>
        </div>
        {data && data.backups.items.length === 0 && <p class="muted">No backups match.</p>}
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Newer</button>
          <span>{total === 0 ? '0' : `${offset + 1}–${Math.min(offset + PAGE, total)}`} of {total}</span>
          <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>Older</button>
        </nav>
      </Section>
    </>
  );
}

function BackUpNow({ jobs }: { jobs: Job[] }) {
  const [auditLogs, setAuditLogs] = useState(false);
  const [staffSessions, setStaffSessions] = useState(false);
  const [location, setLocation] = useState('LOCAL');
  const [result, create] = useMutation<{ createBackup: Job }>(CREATE_BACKUP);
  const started = result.data && (jobs.find((j) => j.id === result.data!.createBackup.id) ?? result.data.createBackup);
  return (
    <Section title="Back up now">
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create({ input: { includeAuditLogs: auditLogs, includeSessions: staffSessions, location } });
        }}
      >
        <Field label="Location">
          <select name="location" value={location} onChange={(e) => setLocation(e.currentTarget.value)}>
            {FILTERS.location.map((l) => (
              <option key={l} value={l}>{l}</option>
            ))}
          </select>
        </Field>
        <label class="check">
          <input type="checkbox" checked={auditLogs} onChange={(e) => setAuditLogs(e.currentTarget.checked)} /> Audit logs
        </label>
        <label class="check">
          <input type="checkbox" checked={staffSessions} onChange={(e) => setStaffSessions(e.currentTarget.checked)} /> Staff sessions
        </label>
        <button type="submit" disabled={result.fetching}>Back up now</button>
      </form>
      {started && <JobCard job={started} />}
      <Problem problem={problemOf(result.error)} />
    </Section>
  );
}

function BackupLine({ backup: b, zone }: { backup: BackupRow; zone?: string }) {
  const client = useClient();
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [drill, setDrill] = useState(true);
  const [verifying, verify] = useMutation(VERIFY_BACKUP);
  const [deleting, remove] = useMutation(DELETE_BACKUP);
  const usable = b.status === 'COMPLETED';

  const download = async () => {
    // A fresh short-lived link each time (a signed one from Cloudinary, or the gateway's own).
    const res = await client.query<{ backup: { downloadUrl: string | null } | null }>(DOWNLOAD_URL, { id: b.id }, { requestPolicy: 'network-only' }).toPromise();
    const url = res.data?.backup?.downloadUrl;
    if (url) window.location.assign(sameOrigin(url));
    else setProblem(problemOf(res.error) ?? { code: 'NOT_FOUND', message: 'This backup has no file to download' });
  };

  const flags = [
    b.compressed && 'gzip',
    b.encrypted && 'encrypted',
    b.storedInCloud && 'cloud copy',
    b.cloudError && 'cloud error',
    b.lastVerifiedAt && 'verified',
  ].filter(Boolean) as string[];

  return (
    <>
      <tr data-backup-id={b.id}>
        <td><Time iso={b.createdAt} zone={zone} /></td>
        <td>{b.type}{b.origin === 'APP' && <small> (app)</small>}</td>
        <td><span class={`status status-${b.status.toLowerCase()}`}>{b.status}</span></td>
        <td>{b.location}</td>
        <td>{bytes(b.fileSize)}</td>
        <td>
          {flags.map((f) => (
            <span key={f} class={`flag ${f === 'cloud error' ? 'bad' : ''}`} title={f === 'cloud error' ? (b.cloudError ?? '') : undefined}>{f}</span>
          ))}
        </td>
        <td>{b.createdBy?.email ?? '—'}</td>
        <td class="actions">
          <button type="button" class="small" disabled={!usable} onClick={() => void download()} aria-label={`Download ${b.filename}`}>Download</button>
          <label class="check small">
            <input type="checkbox" checked={drill} onChange={(e) => setDrill(e.currentTarget.checked)} /> drill
          </label>
          <button type="button" class="small" disabled={!usable || verifying.fetching} onClick={() => void verify({ id: b.id, drill })} aria-label={`Verify ${b.filename}`}>Verify</button>
          <button type="button" class="small" disabled={!usable} onClick={() => navigate('restore', { id: b.id })} aria-label={`Restore ${b.filename}`}>Restore</button>
          <button type="button" class="small danger" onClick={() => setConfirming(true)} aria-label={`Delete ${b.filename}`}>Delete</button>
        </td>
      </tr>
      {(confirming || problem || verifying.error || deleting.error || verifying.data || b.error) && (
        <tr class="line-detail">
          <td colSpan={8}>
            <code class="filename">{b.filename}</code>
            {b.error && <span class="bad"> {b.error}</span>}
            {verifying.data && <span role="status"> Verification started: its checks appear under Jobs.</span>}
            {confirming && (
              <span class="confirm" role="alertdialog" aria-label="Confirm delete">
                Delete this backup from every location?{' '}
                <button type="button" class="small danger" disabled={deleting.fetching} onClick={() => void remove({ id: b.id }, DELETED).then(() => setConfirming(false))}>Yes, delete</button>{' '}
                <button type="button" class="small" onClick={() => setConfirming(false)}>Keep it</button>
              </span>
            )}
            <Problem problem={problem ?? problemOf(verifying.error) ?? problemOf(deleting.error)} />
          </td>
        </tr>
      )}
    </>
  );
}

/**
 * The gateway's own links name the address it was started on (or PUBLIC_URL); opened from the
 * console they go to the origin the console came from, as an admin behind a proxy reaches it.
 * A Cloudinary link stays as it is.
 */
function sameOrigin(link: string): string {
  const url = new URL(link, location.href);
  return /^\/backups\/[^/]+\/download$/.test(url.pathname) ? `${location.origin}${url.pathname}${url.search}` : url.href;
}
