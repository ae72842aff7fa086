import { createClient, type Client as SocketClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ConfigError, loadCliGatewayConfig } from '../config/config';
import { CliError, ExitCode } from './exit-codes';
import { readPassword } from './password-prompt';

export interface GatewayOptions {
  url?: string;
  email?: string;
}

type Answer<T> = { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };

/**
 * The public GraphQL API as a runbook uses it: one token (KILN_TOKEN, or a sign-in as --email /
 * KILN_EMAIL with the password asked without echo, or from stdin), every GraphQL error turned
 * into a one-line CliError with its code and the exit code of its kind.
 */
export class Gateway {
  private constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  static async connect(options: GatewayOptions): Promise<Gateway> {
    let config;
    try {
      config = loadCliGatewayConfig();
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.problems.join('; '), ExitCode.USAGE);
      throw err;
    }
    const url = (options.url ?? config.url).replace(/\/+$/, '');
    if (config.token) return new Gateway(url, config.token);
    const email = options.email ?? config.email;
    if (!email) throw new CliError('no credentials: set KILN_TOKEN, or give --email (or KILN_EMAIL) to sign in', ExitCode.USAGE);
    const password = await readPassword(`Password for ${email} at ${url}: `);
    const answer = await post<{ login: { token: string } }>(url, 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', { e: email, p: password });
    return new Gateway(url, answer.login.token);
  }

  query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    return post<T>(this.url, query, variables, this.token);
  }

  /** A GET of one of the gateway's routes with this token (downloads); network failures are UNREACHABLE. */
  async get(pathname: string, headers: Record<string, string> = {}): Promise<Response> {
    try {
      return await fetch(`${this.url}${pathname}`, { headers: { authorization: `Bearer ${this.token}`, ...headers } });
    } catch (err) {
      throw unreachable(this.url, err);
    }
  }

  /** A graphql-ws client with this token; closed by the caller. */
  socket(): SocketClient {
    return createClient({
      url: `${this.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.token}` },
      retryAttempts: 5,
      shouldRetry: (event) => !(typeof event === 'object' && event !== null && 'code' in event && [4401, 4403].includes((event as { code: number }).code)),
    });
  }
}

async function post<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw unreachable(url, err);
  }
  const answer = (await res.json().catch(() => ({}))) as Answer<T>;
  const error = answer.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? 'INTERNAL';
    const exit = code === 'UNAUTHENTICATED' ? ExitCode.UNAUTHENTICATED : code === 'BAD_USER_INPUT' ? ExitCode.USAGE : ExitCode.FAILED;
    const hint = code === 'UNAUTHENTICATED' ? ' (sign in again: a new KILN_TOKEN, or --email)' : '';
    throw new CliError(`${code}: ${error.message}${hint}`, exit);
  }
  if (!answer.data) throw new CliError(`the gateway at ${url} answered HTTP ${res.status} without data`, ExitCode.FAILED);
  return answer.data;
}

function unreachable(url: string, err: unknown): CliError {
  // undici's "fetch failed" hides the reason in cause (an AggregateError when both IPv4 and IPv6 were tried).
  const cause = (err as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }).cause;
  const reason = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (err as Error).message;
  return new CliError(`cannot reach the gateway at ${url} (${reason}): is it running? (--url or KILN_URL)`, ExitCode.UNREACHABLE);
}
