import type { KilnProcess } from '../test/support/kiln-process';

/** The admin every bench gateway is started with (ensureBenchAdmin creates it in the bench database). */
export const BENCH_ADMIN = { email: 'bench-admin@kiln.local', password: 'bench-admin-password' };

/** The cheapest authenticated query: what the latency measurements time. */
export const ME = JSON.stringify({ query: '{ me { id } }' });

/** One GraphQL POST to a bench gateway, its JSON answer as is. */
export async function postGraphql(kiln: KilnProcess, body: string, headers: Record<string, string>): Promise<{ data?: any; errors?: any[] }> {
  const res = await fetch(`${kiln.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return (await res.json()) as { data?: any; errors?: any[] };
}

/** p50 and p99 of request times (ms), and how many there were. */
export function percentiles(times: number[]): { p50: number; p99: number; n: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
  return { p50: at(0.5), p99: at(0.99), n: sorted.length };
}

export const ms = (v: number): string => `${v.toFixed(1)} ms`;
