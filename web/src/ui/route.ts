import { useEffect, useState } from 'preact/hooks';

export const PAGES = ['overview', 'backups', 'jobs', 'restore', 'schedule', 'system'] as const;
export type PageName = (typeof PAGES)[number];
export interface Route {
  page: PageName;
  params: URLSearchParams;
}

/** Hash routes (#/backups, #/restore?id=…): the gateway serves one page, links still work. */
function current(): Route {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const page = (PAGES as readonly string[]).includes(path) ? (path as PageName) : 'overview';
  return { page, params: new URLSearchParams(query ?? '') };
}

export function navigate(page: PageName, params: Record<string, string> = {}): void {
  const query = new URLSearchParams(params).toString();
  location.hash = `#/${page}${query ? `?${query}` : ''}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const onChange = () => setRoute(current());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
