/**
 * What the fake answers, shaped like Cloudinary's answers: errors are
 * `{ "error": { "message": ... } }` with the message also in X-Cld-Error, and
 * resources carry the fields Cloudinary's upload and Admin API responses do.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { responseSignature } from './cloudinary-signature';
import type { StoredObject } from './object-store';

/** A refusal, carried to the one place that writes responses. */
export class CloudinaryError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Account {
  baseUrl: string;
  cloudName: string;
  apiKey: string;
  apiSecret: string;
}

/** Cloudinary's timestamp format in "Stale request" messages: `2024-04-11 13:23:38 +0000`. */
export function cloudinaryTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' +0000');
}

function deliveryUrl(object: StoredObject, account: Account): string {
  // The shape of an authenticated delivery URL (s--signature--); the fake
  // does not serve it: Kiln downloads through private_download_url.
  const signature = createHash('sha1')
    .update(`v${object.version}/${object.publicId}${account.apiSecret}`)
    .digest('base64url')
    .slice(0, 8);
  const signed = object.type === 'upload' ? '' : `s--${signature}--/`;
  return `${account.baseUrl}/${account.cloudName}/raw/${object.type}/${signed}v${object.version}/${object.publicId}`;
}

/** The resource as the Admin API describes it. */
export function resourceJson(object: StoredObject, account: Account): Record<string, unknown> {
  const url = deliveryUrl(object, account);
  return {
    asset_id: object.assetId,
    public_id: object.publicId,
    version: object.version,
    version_id: object.versionId,
    resource_type: object.resourceType,
    type: object.type,
    created_at: object.createdAt,
    bytes: object.bytes,
    etag: object.etag,
    url,
    secure_url: url,
    asset_folder: object.assetFolder,
    display_name: path.posix.basename(object.publicId),
    access_mode: 'public',
  };
}

/** The final answer to an upload: the resource plus the upload-only fields. */
export function uploadJson(object: StoredObject, account: Account, existing: boolean): Record<string, unknown> {
  return {
    ...resourceJson(object, account),
    signature: responseSignature(object.publicId, object.version, account.apiSecret),
    tags: [],
    placeholder: false,
    original_filename: object.originalFilename,
    existing,
    api_key: account.apiKey,
  };
}
