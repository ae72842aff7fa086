import { useEffect, useState } from 'preact/hooks';

/** Who is signed in. Kept in sessionStorage: one tab's session, gone with the tab, never a cookie. */
export interface Session {
  token: string;
  email: string;
  expiresAt: string;
}

const KEY = 'kiln.session';
type State = { session: Session | null; notice: string | null };

let state: State = { session: read(), notice: null };
const listeners = new Set<(s: State) => void>();

function read(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return s && new Date(s.expiresAt) > new Date() ? s : null;
  } catch {
    return null;
  }
}

function set(next: State): void {
  state = next;
  if (next.session) sessionStorage.setItem(KEY, JSON.stringify(next.session));
  else sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l(state));
}

export const sessions = {
  current: (): Session | null => state.session,
  signedIn: (session: Session): void => set({ session, notice: null }),
  /**
   * Ends the session in this tab, with the reason the sign-in page shows. The first reason
   * stays (a socket closing after a sign-out must not say "revoked"), unless `replace`.
   */
  end: (notice: string | null, { replace = false } = {}): void => {
    if (state.session || (replace && notice !== state.notice)) set({ session: null, notice });
  },
};

export function useSession(): State {
  const [s, setS] = useState(state);
  useEffect(() => {
    listeners.add(setS);
    setS(state);
    return () => void listeners.delete(setS);
  }, []);
  return s;
}
