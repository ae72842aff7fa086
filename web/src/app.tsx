import { useEffect, useMemo } from 'preact/hooks';
import { Provider, useQuery } from '@urql/preact';
import { createApiClient } from './api/client';
import { signOut } from './api/anonymous';
import { SCHEDULE_ZONE } from './api/operations';
import { useSession, type Session } from './api/session';
import { Backups } from './pages/backups';
import { Overview } from './pages/overview';
import { Restore } from './pages/restore';
import { ScheduleForm } from './pages/schedule';
import { SignIn } from './pages/sign-in';
import { System } from './pages/system';
import { JobList, useLiveJobs } from './ui/jobs';
import { Problem, Section, ZoneContext } from './ui/parts';
import { PAGES, useRoute, type PageName } from './ui/route';

const TITLES: Record<PageName, string> = {
  overview: 'Overview',
  backups: 'Backups',
  jobs: 'Jobs',
  restore: 'Restore',
  schedule: 'Schedule',
  system: 'System',
};

export function App() {
  const { session, notice } = useSession();
  if (!session) return <SignIn notice={notice} />;
  // A new client (and socket) per session: nothing of a previous session's cache or socket survives.
  return <SignedIn key={session.token} session={session} />;
}

function SignedIn({ session }: { session: Session }) {
  const api = useMemo(() => createApiClient(session), [session]);
  useEffect(() => () => void api.socket.dispose(), [api]);
  return (
    <Provider value={api.client}>
      <Console session={session} />
    </Provider>
  );
}

function Console({ session }: { session: Session }) {
  const route = useRoute();
  const { jobs, problem } = useLiveJobs();
  const [zone] = useQuery<{ backupSchedule: { timezone: string } }>({ query: SCHEDULE_ZONE });
  useEffect(() => {
    document.title = `${TITLES[route.page]} · Kiln`;
  }, [route.page]);

  return (
    <>
      <header class="top">
        <strong class="brand">Kiln</strong>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a key={p} href={`#/${p}`} aria-current={route.page === p ? 'page' : undefined}>
              {TITLES[p]}
            </a>
          ))}
        </nav>
        <span class="who">{session.email}</span>
        <button type="button" class="small" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <ZoneContext.Provider value={zone.data?.backupSchedule.timezone}>
        <main>
          <h1>{TITLES[route.page]}</h1>
          <Problem problem={problem} />
          {route.page === 'overview' && <Overview jobs={jobs} />}
          {route.page === 'backups' && <Backups jobs={jobs} />}
          {route.page === 'jobs' && (
            <Section title="Live jobs">
              <JobList jobs={jobs} />
            </Section>
          )}
          {route.page === 'restore' && <Restore jobs={jobs} initialId={route.params.get('id')} />}
          {route.page === 'schedule' && <ScheduleForm />}
          {route.page === 'system' && <System />}
        </main>
      </ZoneContext.Provider>
    </>
  );
}
