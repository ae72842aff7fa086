import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** An HTTP answer: a status with an optional JSON or text body, or no answer at all. */
export type HttpAnswer = { status: number; body?: unknown } | 'hang';

export interface HttpRequestSeen {
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  /** What the receiver answered. */
  status: number | 'hang';
}

/** A chat API stand-in (Slack incoming webhook, Telegram Bot API) on 127.0.0.1 that records every request. */
export class HttpReceiver {
  readonly requests: HttpRequestSeen[] = [];
  answer: (body: any, path: string) => HttpAnswer = () => ({ status: 200, body: 'ok' });

  constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: any = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // recorded as null; the test fails on it
        }
        const answer = this.answer(body, req.url ?? '');
        this.requests.push({ path: req.url ?? '', headers: req.headers, body, status: answer === 'hang' ? 'hang' : answer.status });
        if (answer === 'hang') return;
        const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? { ok: answer.status < 300 });
        res.writeHead(answer.status, { 'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json' }).end(text);
      });
    });
  }

  async close(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new HttpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

export interface MailSeen {
  mail: ParsedMail;
  /** Envelope recipients (RCPT TO). */
  to: string[];
  from: string | undefined;
  /** The user it authenticated as. */
  user: string | undefined;
  /** What the server answered to DATA: 250, or the error code it gave. */
  code: number;
}

/**
 * A real SMTP server (smtp-server) on 127.0.0.1 that accepts one user's AUTH, parses every
 * message with mailparser, records it, and answers DATA as `answer` says (250, or a 4xx/5xx).
 */
export class SmtpReceiver {
  readonly messages: MailSeen[] = [];
  answer: (mail: ParsedMail) => number = () => 250;
  readonly server: SMTPServer;

  constructor(
    readonly user: string,
    readonly password: string,
  ) {
    this.server = new SMTPServer({
      // A local test server: no TLS to offer, so AUTH in the clear is allowed here.
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authOptional: false,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === user && auth.password === password) return callback(null, { user });
        const err = Object.assign(new Error('Invalid username or password'), { responseCode: 535 });
        callback(err);
      },
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((mail) => {
            const code = this.answer(mail);
            this.messages.push({
              mail,
              to: session.envelope.rcptTo.map((r) => r.address),
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
              user: session.user as string | undefined,
              code,
            });
            if (code === 250) return callback();
            callback(Object.assign(new Error(code >= 500 ? 'Message rejected by policy' : 'Try again later'), { responseCode: code }));
          })
          .catch((err: Error) => callback(err));
      },
    });
  }

  get port(): number {
    return (this.server.server.address() as AddressInfo).port;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
  }

  /** Accepted messages only. */
  get accepted(): MailSeen[] {
    return this.messages.filter((m) => m.code === 250);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function startSmtpReceiver(user: string, password: string): Promise<SmtpReceiver> {
  const receiver = new SmtpReceiver(user, password);
  await receiver.listen();
  return receiver;
}
