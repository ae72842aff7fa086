import { useEffect, useMemo, useState } from 'preact/hooks';
import { useMutation, useQuery } from '@urql/preact';
import { problemOf } from '../api/errors';
import { SCHEDULE, SCHEDULE_PREVIEW, UPDATE_SCHEDULE } from '../api/operations';
import { bytes } from '../ui/format';
import { Field, Problem, Section, Time } from '../ui/parts';

interface Schedule {
  frequency: string;
  cron: string | null;
  timezone: string;
  location: string;
  retentionDays: number;
  keepAtLeast: number;
  includeAuditLogs: boolean;
  includeSessions: boolean;
  drillFrequency: string;
  drillCron: string | null;
  nextDrillAt: string | null;
  nextBackupAt: string | null;
  lastBackupAt: string | null;
  updatedAt: string;
  warnings: string[];
}
type Draft = Pick<Schedule, 'frequency' | 'cron' | 'timezone' | 'location' | 'retentionDays' | 'keepAtLeast' | 'includeAuditLogs' | 'includeSessions' | 'drillFrequency' | 'drillCron'>;

const FREQUENCIES = ['DISABLED', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'CUSTOM'];
const DRILL_FREQUENCIES = ['DISABLED', 'WEEKLY', 'MONTHLY', 'QUARTERLY', 'CUSTOM'];
const ZONES: string[] = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? ['UTC'];

function draftOf(s: Schedule): Draft {
  return {
    frequency: s.frequency === 'UNKNOWN' ? 'DISABLED' : s.frequency,
    cron: s.frequency === 'CUSTOM' ? s.cron : null,
    timezone: s.timezone,
    location: s.location === 'UNKNOWN' ? 'LOCAL' : s.location,
    retentionDays: s.retentionDays,
    keepAtLeast: s.keepAtLeast,
    includeAuditLogs: s.includeAuditLogs,
    includeSessions: s.includeSessions,
    drillFrequency: s.drillFrequency,
    drillCron: s.drillFrequency === 'CUSTOM' ? s.drillCron : null,
  };
}

/** What is sent: a cron only for CUSTOM (a fixed frequency has its own), the drills' too. */
const input = (d: Draft) => ({ ...d, cron: d.frequency === 'CUSTOM' ? d.cron : null, drillCron: d.drillFrequency === 'CUSTOM' ? d.drillCron : null });

/** Waits until the value has stopped changing for `ms`, so previews follow typing without a request per key. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function ScheduleForm() {
  const [{ data, error }] = useQuery<{ backupSchedule: Schedule }>({ query: SCHEDULE });
  const [draft, setDraft] = useState<Draft | null>(null);
  useEffect(() => {
    if (data && !draft) setDraft(draftOf(data.backupSchedule));
  }, [data, draft]);
  const [saved, save] = useMutation<{ updateBackupSchedule: Schedule }>(UPDATE_SCHEDULE);
  const settled = useSettled(draft, 250);
  const variables = useMemo(() => ({ draft: settled ? input(settled) : null }), [settled]);
  const [preview] = useQuery<{
    nextBackupRuns: { at: string; local: string }[];
    retentionPreview: { cutoff: string; totalBytes: number; backups: { id: string; filename: string; createdAt: string; fileSize: number }[] };
  }>({ query: SCHEDULE_PREVIEW, variables, pause: !settled, requestPolicy: 'network-only' });

  if (!draft || !data) return <Problem problem={problemOf(error)} />;
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft({ ...draft, [key]: value });
  const dirty = JSON.stringify(input(draft)) !== JSON.stringify(input(draftOf(data.backupSchedule)));
  const zone = draft.timezone;

  return (
    <>
      <Section title="Backup schedule">
        {data.backupSchedule.warnings.map((w) => (
          <p key={w} class="bad">{w}</p>
        ))}
        <form
          class="form-grid"
          aria-label="Schedule"
          onSubmit={(e) => {
            e.preventDefault();
            void save({ input: input(draft) }).then((r) => r.data && setDraft(draftOf(r.data.updateBackupSchedule)));
          }}
        >
          <Field label="Frequency">
            <select name="frequency" value={draft.frequency} onChange={(e) => set('frequency', e.currentTarget.value)}>
              {FREQUENCIES.map((f) => (
                <option key={f} value={f}>{f}</option>
              ))}
            </select>
          </Field>
          {draft.frequency === 'CUSTOM' && (
            <Field label="Cron (minute hour day month weekday)">
              <input name="cron" value={draft.cron ?? ''} placeholder="30 2 * * *" onInput={(e) => set('cron', e.currentTarget.value)} />
            </Field>
          )}
          <Field label="Time zone" hint="Type to search">
            <input name="timezone" list="zones" value={draft.timezone} onInput={(e) => set('timezone', e.currentTarget.value)} />
          </Field>
          <datalist id="zones">
            {ZONES.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
          <Field label="Location">
            <select name="location" value={draft.location} onChange={(e) => set('location', e.currentTarget.value)}>
              {['LOCAL', 'CLOUD', 'BOTH'].map((l) => (
                <option key={l} value={l}>{l}</option>
              ))}
            </select>
          </Field>
          <Field label="Keep backups for (days)">
            <input name="retentionDays" type="number" min={1} value={draft.retentionDays} onInput={(e) => set('retentionDays', e.currentTarget.valueAsNumber)} />
          </Field>
          <Field label="Keep at least (backups)">
            <input name="keepAtLeast" type="number" min={1} value={draft.keepAtLeast} onInput={(e) => set('keepAtLeast', e.currentTarget.valueAsNumber)} />
          </Field>
          <Field label="Restore drills" hint={data.backupSchedule.nextDrillAt ? `next ${new Date(data.backupSchedule.nextDrillAt).toISOString().replace('.000', '')}` : 'off'}>
            <select name="drillFrequency" value={draft.drillFrequency} onChange={(e) => set('drillFrequency', e.currentTarget.value)}>
              {DRILL_FREQUENCIES.map((f) => (
                <option key={f} value={f}>{f}</option>
              ))}
            </select>
          </Field>
          {draft.drillFrequency === 'CUSTOM' && (
            <Field label="Drill cron (minute hour day month weekday)">
              <input name="drillCron" value={draft.drillCron ?? ''} placeholder="0 4 1 * *" onInput={(e) => set('drillCron', e.currentTarget.value)} />
            </Field>
          )}
          <label class="check">
            <input type="checkbox" checked={draft.includeAuditLogs} onChange={(e) => set('includeAuditLogs', e.currentTarget.checked)} /> Include audit logs
          </label>
          <label class="check">
            <input type="checkbox" checked={draft.includeSessions} onChange={(e) => set('includeSessions', e.currentTarget.checked)} /> Include staff sessions
          </label>
          <div class="form-actions">
            <button type="submit" disabled={!dirty || saved.fetching}>Save schedule</button>
            <button type="button" disabled={!dirty} onClick={() => setDraft(draftOf(data.backupSchedule))}>Undo changes</button>
            <span class="muted" role="status">{dirty ? 'Not saved yet: the previews below show the form as it is now.' : 'No unsaved changes.'}</span>
          </div>
        </form>
        <Problem problem={problemOf(saved.error)} />
      </Section>
      <div class="grid">
        <Section title="Next runs">
          <Problem problem={problemOf(preview.error)} />
          {preview.data && (preview.data.nextBackupRuns.length === 0 ? (
            <p class="muted">No runs: the schedule is disabled.</p>
          ) : (
            <ol class="runs" aria-label="Next runs">
              {preview.data.nextBackupRuns.map((r) => (
                <li key={r.at}>
                  <code>{r.local}</code> <small>({new Date(r.at).toISOString().replace('.000', '')})</small>
                </li>
              ))}
            </ol>
          ))}
        </Section>
        <Section title="Retention now">
          {preview.data && (
            <>
              <p aria-label="Retention summary">
                {preview.data.retentionPreview.backups.length === 0
                  ? 'A retention run now would delete nothing.'
                  : `A retention run now would delete ${preview.data.retentionPreview.backups.length} backup(s), ${bytes(preview.data.retentionPreview.totalBytes)}.`}
              </p>
              <ul>
                {preview.data.retentionPreview.backups.map((b) => (
                  <li key={b.id}>
                    <code>{b.filename}</code> <Time iso={b.createdAt} zone={zone} />
                  </li>
                ))}
              </ul>
            </>
          )}
        </Section>
      </div>
    </>
  );
}
