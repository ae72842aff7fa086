import { useState } from 'preact/hooks';
import { useMutation, useQuery } from '@urql/preact';
import { problemOf } from '../api/errors';
import { DEPENDENCIES, RESET_SYSTEM } from '../api/operations';
import { sessions } from '../api/session';
import { Field, Problem, Section } from '../ui/parts';
import { Maintenance, useMaintenance } from './maintenance';

export function System() {
  return (
    <>
      <Maintenance />
      <DependencyCheck />
      <Reset />
    </>
  );
}

function DependencyCheck() {
  const [entityType, setEntityType] = useState('USER');
  const [entityId, setEntityId] = useState('');
  const [asked, setAsked] = useState<{ entityType: string; entityId: string } | null>(null);
  const [{ data, error, fetching }] = useQuery<{
    deletionDependencies: { canDelete: boolean; suggestions: string[]; dependencies: { type: string; count: number; message: string }[] };
  }>({ query: DEPENDENCIES, variables: asked ?? {}, pause: !asked, requestPolicy: 'network-only' });
  const report = data?.deletionDependencies;
  return (
    <Section title="Before deleting in the lending app">
      <form
        class="inline-form"
        aria-label="Deletion dependencies"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked({ entityType, entityId: entityId.trim() });
        }}
      >
        <Field label="What">
          <select name="entityType" value={entityType} onChange={(e) => setEntityType(e.currentTarget.value)}>
            <option value="USER">User</option>
            <option value="UNION">Union</option>
            <option value="UNION_MEMBER">Union member</option>
            <option value="LOAN_TYPE">Loan type</option>
          </select>
        </Field>
        <Field label="Id">
          <input name="entityId" required value={entityId} onInput={(e) => setEntityId(e.currentTarget.value)} />
        </Field>
        <button type="submit" disabled={fetching}>Check</button>
      </form>
      <Problem problem={problemOf(error)} />
      {report && (
        <div aria-label="Dependency report">
          <p class={report.canDelete ? 'ok' : 'bad'}>{report.canDelete ? '✔ Nothing depends on it: it can be deleted.' : '✘ It cannot be deleted yet.'}</p>
          <ul>
            {report.dependencies.map((d) => (
              <li key={d.type}>{d.message}</li>
            ))}
          </ul>
          {report.suggestions.length > 0 && (
            <ul class="muted">
              {report.suggestions.map((s) => (
                <li key={s}>{s}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </Section>
  );
}

function Reset() {
  const maintenance = useMaintenance();
  const [typed, setTyped] = useState('');
  const [result, reset] = useMutation<{ resetSystem: { superAdminEmail: string; temporaryPassword: string | null } }>(RESET_SYSTEM);
  return (
    <Section title="Emergency reset">
      <p>
        Empties all lending data after a PRE_RESET backup, leaving one super admin; every session ends. Needs maintenance mode
        {maintenance?.enabled ? ' (on).' : ' (now off: turn it on above).'}
      </p>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void reset({ confirmation: typed }).then(({ data }) => {
              const r = data?.resetSystem;
              // The reset ends every session, this one too: the sign-in page keeps what is needed to come back.
              if (r) {
                sessions.end(
                  `The reset is running and has ended every session. Sign in as ${r.superAdminEmail}` +
                    (r.temporaryPassword ? ` with the temporary password ${r.temporaryPassword} (shown only this once; change it in the lending app).` : ' with the password you set.'),
                  // Said even if the socket's close ("session ended") came first: the password is shown only here.
                  { replace: true },
                );
              }
            });
          }}
        >
          <Field label="Type DELETE to confirm">
            <input name="resetConfirmation" autoComplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
          </Field>
          <button type="submit" class="danger" disabled={typed !== 'DELETE' || result.fetching}>Reset the system</button>
        </form>
      <Problem problem={problemOf(result.error)} />
    </Section>
  );
}
