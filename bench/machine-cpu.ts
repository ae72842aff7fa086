import { readFileSync } from 'node:fs';

/**
 * CPU seconds the whole machine has been busy since boot, summed over its cores (every process:
 * Kiln, PostgreSQL's backends and workers, pg_restore), from /proc/stat; null off Linux. The
 * difference over a span says how much of the machine's capacity (cores × seconds) a job used.
 */
export function machineBusySeconds(): number | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ ticks; guest is inside user)
  const ticks = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / 100;
}
