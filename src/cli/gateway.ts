import { createClient, type Client as SocketClient } from 'graphql-ws/client';
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
    private token: string,
    /** Kept to sign in again after a restore or reset ends every session; absent with KILN_TOKEN. */
    private readonly credentials?: { email: string; password: string },
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
    return new Gateway(url, await signIn(url, email, password), { email, password });
  }

  /** Signs in again with the same credentials (a restore ended the session); false when there are none (KILN_TOKEN). */
  async signInAgain(): Promise<boolean> {
    if (!this.credentials) return false;
    this.token = await signIn(this.url, this.credentials.email, this.credentials.password);
    return true;
  }

  /**
   * A multipart request with one file, as graphql-upload takes it; the file is streamed from disk
   * (with its Content-Length, so the gateway can refuse what it has no room for) and `onBytes` is
   * told how much of it has gone.
   */
  async upload<T>(query: string, variables: Record<string, unknown>, file: Blob, filename: string, onBytes: (sent: number) => void = () => undefined): Promise<T> {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
    form.append('map', JSON.stringify({ 0: ['variables.file'] }));
    // Appended without a file name: FormData would otherwise copy it into a plain File and lose the count.
    form.append('0', new CountedFile(file, filename, onBytes));
    return post<T>(this.url, form, {}, this.token);
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

async function signIn(url: string, email: string, password: string): Promise<string> {
  const answer = await post<{ login: { token: string } }>(url, 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', { e: email, p: password });
  return answer.login.token;
}

/** What to do next, said in this command line's own terms. */
const HINTS: Record<string, string> = {
  UNAUTHENTICATED: ' (sign in again: a new KILN_TOKEN, or --email)',
  MAINTENANCE_REQUIRED: ' (`kiln maintenance on` first, or `kiln restore … --maintenance`, which also turns it off afterwards)',
};

/** A GraphQL request: JSON, or a prepared multipart form (an upload, whose size sets no timeout). */
async function post<T>(url: string, query: string | FormData, variables: Record<string, unknown>, token?: string): Promise<T> {
  let res: Response;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  try {
    res = await fetch(
      `${url}/graphql`,
      typeof query === 'string'
        ? { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ query, variables }), signal: AbortSignal.timeout(60_000) }
        : // Apollo's CSRF prevention lets a multipart request through with this header.
          { method: 'POST', headers: { 'apollo-require-preflight': 'true', ...auth }, body: query },
    );
  } catch (err) {
    throw unreachable(url, err);
  }
  const answer = (await res.json().catch(() => ({}))) as Answer<T>;
  const error = answer.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? 'INTERNAL';
    const exit = code === 'UNAUTHENTICATED' ? ExitCode.UNAUTHENTICATED : code === 'BAD_USER_INPUT' ? ExitCode.USAGE : ExitCode.FAILED;
    const hint = HINTS[code] ?? '';
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

/** A file whose stream() reports the bytes read from it; fetch encodes a FormData entry by that stream. */
class CountedFile extends File {
  constructor(
    file: Blob,
    filename: string,
    private readonly onBytes: (sent: number) => void,
  ) {
    super([file], filename, { type: 'application/octet-stream' });
  }

  override stream(): ReturnType<Blob['stream']> {
    let sent = 0;
    const onBytes = this.onBytes;
    return super.stream().pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          sent += chunk.byteLength;
          onBytes(sent);
          controller.enqueue(chunk);
        },
      }),
    );
  }
}
