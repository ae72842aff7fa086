import { createHmac } from 'node:crypto';

/**
 * X-Kiln-Signature: `sha256=` + hex HMAC-SHA256, keyed with BACKUP_WEBHOOK_SECRET,
 * over `<X-Kiln-Timestamp>.<raw body>`. The timestamp is signed so a captured
 * delivery cannot be replayed later with a fresh timestamp.
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
