/**
 * The paths the fake serves, all under /v1_1/:cloud:
 *   POST   :resource_type/upload | :resource_type/destroy
 *   GET    :resource_type/download (also HEAD)
 *   GET    resources/:resource_type[/:type[/:public_id]]   (Admin API)
 *   DELETE resources/:resource_type/:type                  (Admin API)
 * Anything else is answered 404. Throws URIError on a malformed %-escape.
 */
import type { Route } from './server-context';

export function route(method: string, pathname: string): Route | null {
  const match = /^\/v1_1\/([^/]+)\/(.+)$/.exec(pathname);
  if (!match) return null;
  const [, cloud, rest] = match;
  const segments = rest.split('/');
  if (segments[0] === 'resources' && segments.length >= 2 && (method === 'GET' || method === 'DELETE')) {
    return {
      endpoint: 'resource',
      cloud,
      resourceType: segments[1],
      type: segments[2] ? decodeURIComponent(segments[2]) : undefined,
      publicId: segments.length > 3 ? decodeURIComponent(segments.slice(3).join('/')) : undefined,
    };
  }
  if (segments.length !== 2) return null;
  const [resourceType, action] = segments;
  if (action === 'upload' && method === 'POST') return { endpoint: 'upload', cloud, resourceType };
  if (action === 'destroy' && method === 'POST') return { endpoint: 'destroy', cloud, resourceType };
  if (action === 'download' && (method === 'GET' || method === 'HEAD')) return { endpoint: 'download', cloud, resourceType };
  return null;
}
