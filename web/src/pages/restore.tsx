import { useState } from 'preact/hooks';
import { useMutation, useQuery } from '@urql/preact';
import { uploadFile } from '../api/anonymous';
import { problemOf, type ApiProblem } from '../api/errors';
import { BACKUPS, BACKUP_DETAIL, INSPECT_UPLOAD, RESTORE_STORED, RESTORE_UPLOAD } from '../api/operations';
import { Maintenance, useMaintenance } from './maintenance';
import { bytes, count } from '../ui/format';
import { JobCard, type Job } from '../ui/jobs';
import { Field, Problem, ProgressBar, Section, Time } from '../ui/parts';
import type { BackupRow } from './backups';

interface FileReport {
  filename: string;
  bytes: number;
  createdAt: string | null;
  kilnVersion: string | null;
  encrypted: boolean;
  signature: 'VALID' | 'UNSIGNED' | 'OTHER_KEY' | 'MISMATCH';
  rows: number;
  tables: { name: string; rows: number }[];
  tablesKept: string[];
}

const SIGNATURE_WORDS: Record<FileReport['signature'], string> = {
  VALID: 'Signed by this Kiln: the file is as Kiln wrote it.',
  UNSIGNED: 'Not signed (an app backup, or a file from an older Kiln).',
  OTHER_KEY: 'Signed with another key (another Kiln installation).',
  MISMATCH: 'The signature does not match: the file was edited after it was written.',
};

export function Restore({ jobs, initialId }: { jobs: Job[]; initialId: string | null }) {
  const [source, setSource] = useState<'stored' | 'upload'>('stored');
  const [backupId, setBackupId] = useState(initialId ?? '');
  const [file, setFile] = useState<File | null>(null);
  const [report, setReport] = useState<FileReport | null>(null);
  const [allowUnsigned, setAllowUnsigned] = useState(false);
  const [typed, setTyped] = useState('');
  const [upload, setUpload] = useState<{ label: string; sent: number; total: number } | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);

  const [stored] = useQuery<{ backups: { items: BackupRow[] } }>({ query: BACKUPS, variables: { filter: { status: 'COMPLETED' }, limit: 100, offset: 0 } });
  const [detail] = useQuery<{ backup: (BackupRow & { recordCounts: Record<string, number> | null }) | null }>({
    query: BACKUP_DETAIL,
    variables: { id: backupId },
    pause: source !== 'stored' || !backupId,
  });
  const [storedRestore, restoreStored] = useMutation<{ restoreBackup: Job }>(RESTORE_STORED);
  const maintenance = useMaintenance();

  const expected = source === 'stored' ? detail.data?.backup?.filename : file?.name;
  const needsConsent = source === 'upload' && report !== null && report.signature !== 'VALID';
  const ready = !!expected && typed === expected && (source === 'stored' || report !== null) && (!needsConsent || allowUnsigned);
  const job = jobs.find((j) => j.id === jobId);

  const send = (label: string, query: string, variables: Record<string, unknown>) => {
    setProblem(null);
    setUpload({ label, sent: 0, total: file!.size });
    return uploadFile<Record<string, unknown>>(query, file!, variables, (sent, total) => setUpload({ label, sent, total })).done.finally(() => setUpload(null));
  };

  const inspect = async () => {
    setReport(null);
    const { data, problem } = await send('Checking the file', INSPECT_UPLOAD, {});
    setProblem(problem);
    if (data) setReport(data.inspectBackupFile as FileReport);
  };

  const restore = async () => {
    setProblem(null);
    if (source === 'stored') {
      const res = await restoreStored({ id: backupId });
      setProblem(problemOf(res.error));
      if (res.data) setJobId(res.data.restoreBackup.id);
    } else {
      const { data, problem } = await send('Uploading the file', RESTORE_UPLOAD, { allowUnsigned: needsConsent && allowUnsigned });
      setProblem(problem);
      if (data) setJobId((data.restoreBackup as { id: string }).id);
    }
  };

  const counts = source === 'stored' ? Object.entries(detail.data?.backup?.recordCounts ?? {}).map(([name, rows]) => ({ name, rows })) : (report?.tables ?? []);

  return (
    <>
      <Maintenance />
      <Section title="Restore">
        <p class="muted">A restore replaces all lending data in one transaction, after a PRE_RESTORE safety backup, and ends every session.</p>
        <fieldset>
          <legend>Restore from</legend>
          <label class="check">
            <input type="radio" name="source" checked={source === 'stored'} onChange={() => { setSource('stored'); setTyped(''); }} /> A stored backup
          </label>
          <label class="check">
            <input type="radio" name="source" checked={source === 'upload'} onChange={() => { setSource('upload'); setTyped(''); }} /> A file from this computer
          </label>
        </fieldset>
        {source === 'stored' ? (
          <Field label="Backup">
            <select name="backup" value={backupId} onChange={(e) => { setBackupId(e.currentTarget.value); setTyped(''); }}>
              <option value="">Choose a backup…</option>
              {stored.data?.backups.items.map((b) => (
                <option key={b.id} value={b.id}>
                  {b.filename} ({b.type}, {bytes(b.fileSize)})
                </option>
              ))}
            </select>
          </Field>
        ) : (
          <div class="inline-form">
            <Field label="Backup file">
              <input type="file" name="file" onChange={(e) => { setFile(e.currentTarget.files?.[0] ?? null); setReport(null); setTyped(''); }} />
            </Field>
            <button type="button" disabled={!file || !!upload || !maintenance?.enabled} onClick={() => void inspect()}>Check the file</button>
            {!maintenance?.enabled && <small>Uploads are taken in maintenance mode only: turn it on above.</small>}
          </div>
        )}
        {upload && (
          <div>
            <p>{upload.label}: {bytes(upload.sent)} of {bytes(upload.total)}</p>
            <ProgressBar percent={(100 * upload.sent) / Math.max(1, upload.total)} label="Upload progress" />
          </div>
        )}
        {report && (
          <p class={report.signature === 'VALID' ? 'ok' : 'bad'} aria-label="Signature">
            {SIGNATURE_WORDS[report.signature]} Written <Time iso={report.createdAt} />
            {report.kilnVersion && ` by Kiln ${report.kilnVersion}`}; {bytes(report.bytes)}{report.encrypted ? ', encrypted' : ''}; {count(report.rows)} rows.
            {report.tablesKept.length > 0 && ` Not in the file, kept as they are: ${report.tablesKept.join(', ')}.`}
          </p>
        )}
        {counts.length > 0 && (
          <table class="counts" aria-label="What the backup holds">
            <thead>
              <tr><th>Table</th><th>Rows</th></tr>
            </thead>
            <tbody>
              {counts.map((t) => (
                <tr key={t.name}><td>{t.name}</td><td>{count(t.rows)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
        {needsConsent && (
          <label class="check">
            <input type="checkbox" checked={allowUnsigned} onChange={(e) => setAllowUnsigned(e.currentTarget.checked)} /> Restore it anyway: I trust where this file comes from
          </label>
        )}
        {expected && (
          <Field label={`Type the file name to confirm: ${expected}`}>
            <input name="confirmation" autoComplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
          </Field>
        )}
        <button type="button" class="danger" disabled={!ready || storedRestore.fetching || !!upload} onClick={() => void restore()}>
          Restore
        </button>
        <Problem problem={problem} />
        {job && <JobCard job={job} />}
      </Section>
    </>
  );
}
