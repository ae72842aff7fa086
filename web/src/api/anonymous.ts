import { graphqlUrl } from './client';
import type { ApiProblem } from './errors';
import { sessions, type Session } from './session';

type Answer<T> = { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };

function problem<T>(answer: Answer<T>, status: number): ApiProblem | null {
  const e = answer.errors?.[0];
  if (e) return { code: e.extensions?.code ?? 'INTERNAL', message: e.message };
  return status >= 400 ? { code: 'INTERNAL', message: `The gateway answered HTTP ${status}` } : null;
}

/** Signs in (the one operation without a token). */
export async function signIn(query: string, email: string, password: string): Promise<ApiProblem | null> {
  let res: Response;
  try {
    res = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables: { email, password } }),
    });
  } catch {
    return { code: 'NETWORK', message: 'The gateway could not be reached' };
  }
  const answer = (await res.json().catch(() => ({}))) as Answer<{ login: { token: string; expiresAt: string; user: { email: string } } }>;
  const failed = problem(answer, res.status);
  if (failed) return failed;
  const login = answer.data!.login;
  const session: Session = { token: login.token, expiresAt: login.expiresAt, email: login.user.email };
  sessions.signedIn(session);
  return null;
}

/**
 * Sends a mutation with one file by the GraphQL multipart request spec, reporting
 * upload progress (fetch cannot). Resolves with the answer's data or its problem.
 */
export function uploadFile<T>(
  query: string,
  file: File,
  variables: Record<string, unknown>,
  onProgress: (sent: number, total: number) => void,
): { done: Promise<{ data?: T; problem: ApiProblem | null }>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const done = new Promise<{ data?: T; problem: ApiProblem | null }>((resolve) => {
    const body = new FormData();
    body.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
    body.append('map', JSON.stringify({ 0: ['variables.file'] }));
    body.append('0', file, file.name);
    xhr.open('POST', graphqlUrl);
    xhr.setRequestHeader('authorization', `Bearer ${sessions.current()?.token ?? ''}`);
    // Apollo's CSRF prevention lets a multipart request through with this header.
    xhr.setRequestHeader('apollo-require-preflight', 'true');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total || file.size);
    xhr.onload = () => {
      let answer: Answer<T> = {};
      try {
        answer = JSON.parse(xhr.responseText) as Answer<T>;
      } catch {
        // not JSON: the status says it
      }
      const p = problem(answer, xhr.status);
      if (p?.code === 'UNAUTHENTICATED') sessions.end(`${p.message}: sign in again.`);
      resolve({ data: answer.data, problem: p });
    };
    xhr.onerror = () => resolve({ problem: { code: 'NETWORK', message: 'The upload was interrupted: the gateway could not be reached' } });
    xhr.onabort = () => resolve({ problem: { code: 'CANCELLED', message: 'The upload was cancelled' } });
    xhr.send(body);
  });
  return { done, abort: () => xhr.abort() };
}

/**
 * Signs out: the tab forgets the session at once, then the gateway revokes the token (a plain
 * request, not tied to the console's client, which goes away with the session).
 */
export async function signOut(): Promise<void> {
  const token = sessions.current()?.token;
  sessions.end('You signed out.');
  if (!token) return;
  await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'mutation Logout { logout }' }),
  }).catch(() => undefined);
}
