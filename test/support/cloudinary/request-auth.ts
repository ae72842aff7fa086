/**
 * Cloudinary's checks on who is calling: signed parameters (upload, destroy,
 * private download) and Basic auth (Admin API). Status codes and messages are
 * the ones Cloudinary answers with; where its exact wording for a case is not
 * known (expired download links), the message says plainly what failed.
 */
import { cloudinaryTime, CloudinaryError } from './cloudinary-responses';
import { signString, stringToSign, type ParamValue, type SignatureAlgorithm } from './cloudinary-signature';

export interface AuthSettings {
  cloudName: string;
  apiKey: string;
  apiSecret: string;
  signatureAlgorithm: SignatureAlgorithm;
  /** The fake's clock, in Unix seconds. */
  now(): number;
}

/** A signed timestamp is good for one hour. */
export const TIMESTAMP_TTL_SECONDS = 3600;

export function single(value: ParamValue | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

export function checkCloud(cloud: string, settings: AuthSettings): void {
  if (cloud !== settings.cloudName) throw new CloudinaryError(401, `Invalid cloud_name ${cloud}`);
}

export type SignedCall = 'upload' | 'destroy' | 'download';

/**
 * Checks api_key, signature and freshness. A download link with `expires_at`
 * is good until then; every other signed call until its timestamp is an hour old.
 */
export function checkSignature(params: Record<string, ParamValue>, call: SignedCall, settings: AuthSettings): void {
  const apiKey = single(params.api_key);
  const signature = single(params.signature);
  if (!signature && call === 'upload') {
    throw new CloudinaryError(400, 'Upload preset must be specified when using unsigned upload');
  }
  if (!apiKey) throw new CloudinaryError(401, 'Must supply api_key');
  if (apiKey !== settings.apiKey) throw new CloudinaryError(401, `Unknown API key ${apiKey}`);
  if (!signature) throw new CloudinaryError(400, 'Missing required parameter - signature');
  const timestamp = single(params.timestamp);
  if (!timestamp) throw new CloudinaryError(400, 'Missing required parameter - timestamp');

  const toSign = stringToSign(params);
  const expected = signString(toSign, settings.apiSecret, settings.signatureAlgorithm);
  if (signature.toLowerCase() !== expected) {
    throw new CloudinaryError(401, `Invalid Signature ${signature}. String to sign - '${toSign}'.`);
  }

  const now = settings.now();
  const expiresAt = single(params.expires_at);
  if (call === 'download' && expiresAt) {
    if (!/^\d+$/.test(expiresAt)) throw new CloudinaryError(400, `Invalid expires_at ${expiresAt}`);
    if (Number(expiresAt) < now) {
      throw new CloudinaryError(401, `Expired link - expires_at ${cloudinaryTime(Number(expiresAt))} is in the past`);
    }
    return;
  }
  if (!/^\d+$/.test(timestamp)) throw new CloudinaryError(400, `Invalid timestamp ${timestamp}`);
  if (Number(timestamp) < now - TIMESTAMP_TTL_SECONDS) {
    throw new CloudinaryError(
      400,
      `Stale request - reported time is ${cloudinaryTime(Number(timestamp))} which is more than 1 hour ago`,
    );
  }
}

/** The Admin API takes the key and secret themselves, as HTTP Basic auth. */
export function checkBasicAuth(header: string | undefined, settings: AuthSettings): void {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw new CloudinaryError(401, 'Must supply api_key');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = colon === -1 ? decoded : decoded.slice(0, colon);
  const secret = colon === -1 ? '' : decoded.slice(colon + 1);
  if (!key) throw new CloudinaryError(401, 'Must supply api_key');
  if (key !== settings.apiKey) throw new CloudinaryError(401, `Unknown API key ${key}`);
  if (secret !== settings.apiSecret) throw new CloudinaryError(401, 'api_secret mismatch');
}
