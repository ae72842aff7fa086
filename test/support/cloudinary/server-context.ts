/** What the fake's endpoint handlers share: one request in flight, and the server around it. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Account } from './cloudinary-responses';
import type { Endpoint, Fault, FaultKind, RequestInfo } from './fault-injector';
import type { ObjectStore } from './object-store';
import type { AuthSettings } from './request-auth';
import type { ReceivedBody } from './request-body';

export interface Route {
  endpoint: Endpoint;
  cloud: string;
  resourceType: string;
  /** Admin API paths: /resources/:resourceType/:type/:publicId */
  type?: string;
  publicId?: string;
}

/** One entry of `server.requests`. */
export interface RecordedRequest extends Omit<RequestInfo, 'endpoint'> {
  /** 'unknown' for paths the fake does not serve (answered 404). */
  endpoint: Endpoint | 'unknown';
  seq: number;
  publicId?: string;
  /** Body bytes read. */
  bytesIn: number;
  fault?: FaultKind;
  status?: number;
  outcome: 'pending' | 'answered' | 'reset' | 'timeout' | 'aborted';
  /** The error message answered, if any. */
  error?: string;
}

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  route: Route;
  record: RecordedRequest;
  fault?: Fault;
}

/** The parts of an exchange that reading and answering need (known before routing). */
export type Reply = Omit<Exchange, 'route'>;

export interface ServerContext {
  account: Account;
  auth: AuthSettings;
  store: ObjectStore;
  minChunkBytes: number;
  /** Reads the body, applying the size limit and any injected reset. */
  readBody(exchange: Reply): Promise<ReceivedBody>;
  /** Writes a JSON answer (after the injected delay, if any). */
  send(exchange: Reply, status: number, body: unknown): Promise<void>;
  /** Waits out an injected 'slow' fault. */
  delay(exchange: Reply): Promise<void>;
}
