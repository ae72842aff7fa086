import { useQuery } from '@urql/preact';
import { problemOf } from '../api/errors';
import { OVERVIEW } from '../api/operations';
import { bytes } from '../ui/format';
import { JobList, type Job } from '../ui/jobs';
import { Problem, Section, Time } from '../ui/parts';

interface OverviewData {
  backupHealth: {
    healthy: boolean;
    problems: string[];
    notes: string[];
    lastSuccessfulBackupAt: string | null;
    lastFailedBackupAt: string | null;
    nextScheduledAt: string | null;
    totalBackups: number;
    totalBytes: number;
    localBytes: number;
    cloudBytes: number;
    failedLast24h: number;
  };
  maintenanceMode: { enabled: boolean; reason: string | null; since: string | null; enabledBy: { email: string } | null };
  backupSchedule: { frequency: string; timezone: string; nextBackupAt: string | null; drillFrequency: string; nextDrillAt: string | null };
}

export function Overview({ jobs }: { jobs: Job[] }) {
  const [{ data, error }] = useQuery<OverviewData>({ query: OVERVIEW });
  const zone = data?.backupSchedule.timezone;
  return (
    <>
      <Problem problem={problemOf(error)} />
      {data && (
        <div class="grid">
          <Section title="Health">
            <p class={data.backupHealth.healthy ? 'ok' : 'bad'} aria-label="Backup health">
              {data.backupHealth.healthy ? '✔ Healthy' : `✘ ${data.backupHealth.problems.length} problem(s)`}
            </p>
            {data.backupHealth.problems.length > 0 && (
              <ul class="problems">
                {data.backupHealth.problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            )}
            {data.backupHealth.notes.map((n) => (
              <p key={n} class="muted">{n}</p>
            ))}
          </Section>
          <Section title="Backups">
            <dl>
              <dt>Last successful</dt>
              <dd><Time iso={data.backupHealth.lastSuccessfulBackupAt} zone={zone} /></dd>
              <dt>Last failed</dt>
              <dd><Time iso={data.backupHealth.lastFailedBackupAt} zone={zone} /></dd>
              <dt>Next scheduled</dt>
              <dd>
                {data.backupSchedule.frequency === 'DISABLED' ? 'Schedule disabled' : <Time iso={data.backupHealth.nextScheduledAt} zone={zone} />}
              </dd>
              <dt>Next restore drill</dt>
              <dd>{data.backupSchedule.drillFrequency === 'DISABLED' ? 'Drills disabled' : <Time iso={data.backupSchedule.nextDrillAt} zone={zone} />}</dd>
              <dt>Stored</dt>
              <dd>
                {data.backupHealth.totalBackups} backups, {bytes(data.backupHealth.localBytes)} on this machine, {bytes(data.backupHealth.cloudBytes)} in the cloud
              </dd>
            </dl>
          </Section>
          <Section title="Maintenance">
            {data.maintenanceMode.enabled ? (
              <p class="bad">
                On since <Time iso={data.maintenanceMode.since} zone={zone} />
                {data.maintenanceMode.enabledBy && ` by ${data.maintenanceMode.enabledBy.email}`}: {data.maintenanceMode.reason ?? 'no reason given'}
              </p>
            ) : (
              <p class="ok">Off: the lending app is in normal service.</p>
            )}
          </Section>
        </div>
      )}
      <Section title="Jobs">
        <JobList jobs={jobs} limit={5} zone={zone} />
      </Section>
    </>
  );
}
