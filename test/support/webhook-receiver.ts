import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
  /** Checked as a receiver would: HMAC over "<timestamp>.<raw body>", timestamp at most 5 minutes old. */
  signed: boolean;
  receivedAt: number;
}

/** A receiver's check of X-Kiln-Signature (the README's snippet). */
export function verifySignature(headers: IncomingHttpHeaders, raw: string, secret: string): boolean {
  const timestamp = headers['x-kiln-timestamp'];
  const signature = headers['x-kiln-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string' || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false; // a replay of an old delivery
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A status, a status with a delay or headers, or no answer at all. */
export type Answer = number | { status: number; delayMs?: number; headers?: Record<string, string> } | 'hang';

/** A webhook receiver on 127.0.0.1, checking signatures as a real one would, that records every attempt and answers as `answer` says (default 200). */
export class Receiver {
  readonly deliveries: Delivery[] = [];
  answer: (body: any, attempt: number) => Answer = () => 200;
  private readonly held = new Set<ServerResponse>();

  constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly secret: string,
  ) {
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: any = null;
        try {
          body = JSON.parse(raw);
        } catch {
          // recorded as is; the test fails on it
        }
        this.deliveries.push({ headers: req.headers, raw, body, signed: verifySignature(req.headers, raw, this.secret), receivedAt: Date.now() });
        const answer = this.answer(body, this.attemptsOf(body?.id).length);
        if (answer === 'hang') {
          this.held.add(res);
          res.on('close', () => this.held.delete(res));
          return;
        }
        const { status, delayMs = 0, headers = {} } = typeof answer === 'number' ? { status: answer } : answer;
        const timer = setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status < 300 ? 'ok' : 'no'), delayMs);
        res.on('close', () => clearTimeout(timer));
      });
    });
  }

  attemptsOf(deliveryId: string): Delivery[] {
    return this.deliveries.filter((d) => d.body?.id === deliveryId);
  }

  /** Attempts of the events matching, oldest first. */
  find(type: string, match: (data: any) => boolean = () => true): Delivery[] {
    return this.deliveries.filter((d) => d.body?.type === type && match(d.body.data));
  }

  async close(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/kiln`, secret);
}
