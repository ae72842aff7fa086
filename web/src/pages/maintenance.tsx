import { useState } from 'preact/hooks';
import { useMutation, useQuery } from '@urql/preact';
import { problemOf } from '../api/errors';
import { MAINTENANCE, SET_MAINTENANCE } from '../api/operations';
import { Field, Problem, Section, Time } from '../ui/parts';

interface MaintenanceState {
  enabled: boolean;
  reason: string | null;
  since: string | null;
  enabledBy: { email: string } | null;
}

export function useMaintenance(): MaintenanceState | undefined {
  const [{ data }] = useQuery<{ maintenanceMode: MaintenanceState }>({ query: MAINTENANCE });
  return data?.maintenanceMode;
}

/** Maintenance mode: restores need it on; the state and the switch, with a reason. */
export function Maintenance() {
  const [{ data, error }] = useQuery<{ maintenanceMode: { enabled: boolean; reason: string | null; since: string | null; enabledBy: { email: string } | null } }>({
    query: MAINTENANCE,
  });
  const [reason, setReason] = useState('');
  const [result, setMaintenance] = useMutation(SET_MAINTENANCE);
  const state = data?.maintenanceMode;
  return (
    <Section title="Maintenance mode">
      <Problem problem={problemOf(error) ?? problemOf(result.error)} />
      {state && (state.enabled ? (
        <div class="inline-form">
          <p class="bad" role="status">
            On since <Time iso={state.since} />
            {state.enabledBy && ` by ${state.enabledBy.email}`}: {state.reason ?? 'no reason given'}
          </p>
          <button type="button" disabled={result.fetching} onClick={() => void setMaintenance({ enabled: false })}>Turn maintenance off</button>
        </div>
      ) : (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void setMaintenance({ enabled: true, reason: reason || null }); }}>
          <p role="status">Off. Restore and reset need it on; the lending app shows the reason to its users.</p>
          <Field label="Reason">
            <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="Restoring last night's backup" />
          </Field>
          <button type="submit" disabled={result.fetching}>Turn maintenance on</button>
        </form>
      ))}
    </Section>
  );
}
