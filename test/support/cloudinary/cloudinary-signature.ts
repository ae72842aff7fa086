/**
 * Cloudinary's request signature, written from Cloudinary's documentation
 * ("Authentication signatures"), not copied from the SDK: the tests check that
 * the two agree, so a drift in either shows up as a failing test.
 *
 * Rules: every parameter except the unsigned ones below is signed; empty values
 * are dropped; arrays are joined by commas; pairs `key=value` are sorted by key
 * and joined by `&`, with any `&` inside a pair written `%26` (signature
 * version 2, which keeps a value from smuggling in another parameter); the API
 * secret is appended and the result hashed (SHA-1 hex, or SHA-256 for accounts
 * set to it: the SDK never sends the algorithm, it is an account setting).
 */
import { createHash } from 'node:crypto';

export type SignatureAlgorithm = 'sha1' | 'sha256';
export type ParamValue = string | string[];
export type Params = Record<string, ParamValue | undefined>;

/** Sent with a request but never part of the signed string. */
export const UNSIGNED_PARAMS: ReadonlySet<string> = new Set([
  'file',
  'api_key',
  'resource_type',
  'cloud_name',
  'signature',
]);

function flatten(value: ParamValue | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(',') : value;
}

/** The exact string Cloudinary signs (and quotes back in "Invalid Signature" errors). */
export function stringToSign(params: Params): string {
  return Object.keys(params)
    .filter((key) => !UNSIGNED_PARAMS.has(key))
    .map((key) => [key, flatten(params[key])] as const)
    .filter(([, value]) => value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`.replace(/&/g, '%26'))
    .join('&');
}

export function signString(toSign: string, apiSecret: string, algorithm: SignatureAlgorithm): string {
  return createHash(algorithm).update(toSign + apiSecret).digest('hex');
}

export function signParams(params: Params, apiSecret: string, algorithm: SignatureAlgorithm = 'sha1'): string {
  return signString(stringToSign(params), apiSecret, algorithm);
}

/**
 * The `signature` field of an upload response: version 1 rules (no `%26`
 * escaping) over public_id and version only, always SHA-1 — what
 * `utils.verify_api_response_signature` checks.
 */
export function responseSignature(publicId: string, version: number, apiSecret: string): string {
  return createHash('sha1').update(`public_id=${publicId}&version=${version}${apiSecret}`).digest('hex');
}
