/**
 * Faults a test queues on the fake Cloudinary. Each request takes the first
 * queued fault that matches it (after letting `skip` matching requests pass);
 * a fault is removed once it has fired `times` times, so `server.faults` being
 * empty at the end of a test shows that every fault was actually hit.
 */

/** The API calls Kiln makes, as the fake routes them. */
export type Endpoint = 'upload' | 'destroy' | 'download' | 'resource';

export type FaultKind =
  /** Answer with `status` (default 500) and a JSON error, after reading the body. */
  | '500'
  /** Read the body and never answer: the client's own timeout has to fire. */
  | 'timeout'
  /**
   * Destroy the socket: for requests with a body, once `afterBytes` of it have
   * arrived (default 64 KiB, or at its end if shorter); for downloads, after
   * sending the headers and `afterBytes` of the file (default half of it);
   * for Admin API calls, at once.
   */
  | 'reset'
  /** Answer normally, `delayMs` (default 2000) after the body has been read. */
  | 'slow';

export interface RequestInfo {
  endpoint: Endpoint;
  method: string;
  path: string;
  /** Upload chunks: the Content-Range header and its parsed start. */
  contentRange?: string;
  chunkStart?: number;
  uploadId?: string;
}

export interface Fault {
  match: Endpoint | 'any' | ((request: RequestInfo) => boolean);
  kind: FaultKind;
  /** How many matching requests it hits (default 1; Infinity for all). Counts down. */
  times?: number;
  /** Matching requests to let through first (default 0). Counts down. */
  skip?: number;
  status?: number;
  delayMs?: number;
  afterBytes?: number;
}

function matches(fault: Fault, request: RequestInfo): boolean {
  if (typeof fault.match === 'function') return fault.match(request);
  return fault.match === 'any' || fault.match === request.endpoint;
}

/** Takes the fault for this request from the queue, or undefined if none applies. */
export function takeFault(queue: Fault[], request: RequestInfo): Fault | undefined {
  const index = queue.findIndex((fault) => matches(fault, request));
  if (index === -1) return undefined;
  const fault = queue[index];
  if ((fault.skip ?? 0) > 0) {
    fault.skip = (fault.skip ?? 0) - 1;
    return undefined;
  }
  fault.times = (fault.times ?? 1) - 1;
  if (fault.times <= 0) queue.splice(index, 1);
  return fault;
}
