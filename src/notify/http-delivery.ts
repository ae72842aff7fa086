import type { DeliveryAttempt, DeliveryResult } from './notification-channel';

export interface JsonPost {
  url: string;
  headers?: Record<string, string>;
  /** Sent as is: a caller that retries sends the same bytes. */
  body: string;
  /** Add the start of the receiver's answer to a failure's reason (for APIs that explain themselves, e.g. Telegram's `description`). */
  explain?: boolean;
}

const EXPLANATION_CHARS = 200;

/**
 * One POST of a JSON body for the HTTP channels: 2xx is delivered; network errors, timeouts,
 * 5xx, 408 and 429 are worth a retry (with the receiver's Retry-After); any other answer is
 * final. Redirects are a misconfiguration: not followed. Never throws; reasons hold no URL.
 */
export async function postJson(post: JsonPost, attempt: DeliveryAttempt): Promise<DeliveryResult> {
  try {
    const res = await fetch(post.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...post.headers },
      body: post.body,
      redirect: 'manual',
      signal: attempt.signal,
    });
    if (res.status >= 200 && res.status < 300) {
      // The answer's body is not needed: release the connection.
      await res.body?.cancel().catch(() => undefined);
      return { outcome: 'delivered', status: res.status };
    }
    const explanation = post.explain ? await explain(res) : (await res.body?.cancel().catch(() => undefined), { text: '' });
    const reason = `HTTP ${res.status}${explanation.text ? `: ${explanation.text}` : ''}`;
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      return { outcome: 'retry', reason, status: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) ?? explanation.retryAfterMs };
    }
    return { outcome: 'refused', reason, status: res.status };
  } catch (err) {
    return { outcome: 'retry', reason: failureReason(err, attempt.timeoutMs) };
  }
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null): number | undefined {
  if (!value?.trim()) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A short reason for the log: timeout, or the network error's code (fetch hides it in `cause`). */
export function failureReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  if (e?.name === 'AbortError') return 'aborted: the gateway is stopping';
  return e?.cause?.code ?? e?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/**
 * The start of an error answer: Telegram's `description` (and its `parameters.retry_after`
 * on a 429), or the text Slack sends (e.g. `invalid_token`).
 */
async function explain(res: Response): Promise<{ text: string; retryAfterMs?: number }> {
  const text = (await res.text().catch(() => '')).trim();
  try {
    const json = JSON.parse(text) as { description?: unknown; parameters?: { retry_after?: unknown } };
    if (typeof json.description === 'string') {
      const seconds = json.parameters?.retry_after;
      return { text: json.description.slice(0, EXPLANATION_CHARS), retryAfterMs: typeof seconds === 'number' ? seconds * 1000 : undefined };
    }
  } catch {
    // not JSON: the text itself
  }
  return { text: text.replace(/\s+/g, ' ').slice(0, EXPLANATION_CHARS) };
}
