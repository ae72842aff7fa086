import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { registerInstance, unregisterInstance, type ThisProcess } from './instance-registry';

describe('instance registry of a data folder', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'kiln-registry-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const alivePids = new Set<number>();
  const proc = (pid: number, started = 1000, host = 'h1'): ThisProcess => ({ host, pid, started, alive: (p) => alivePids.has(p) });

  it('knows nothing on a fresh folder, then returns the earlier instance once its process is gone', async () => {
    alivePids.clear();
    alivePids.add(10);
    expect(await registerInstance(dir, 'a', proc(10))).toEqual([]);
    alivePids.clear();
    alivePids.add(11);
    expect(await registerInstance(dir, 'b', proc(11))).toEqual(['a']);
    // Judged once: 'a' is gone from the file, and 'b' lives on.
    expect(await registerInstance(dir, 'c', proc(12))).toEqual([]);
  });

  it('never judges a live instance sharing the folder, nor one of another host', async () => {
    alivePids.clear();
    alivePids.add(20);
    await registerInstance(dir, 'live', proc(20));
    await registerInstance(dir, 'elsewhere', proc(99, 1000, 'h2'));
    alivePids.add(21);
    expect(await registerInstance(dir, 'new', proc(21))).toEqual([]);
  });

  it('tells a restarted container (same pid, started later) from two gateways in one process', async () => {
    alivePids.clear();
    alivePids.add(1);
    await registerInstance(dir, 'one', proc(1, 1000));
    expect(await registerInstance(dir, 'same-process', proc(1, 1000))).toEqual([]);
    expect((await registerInstance(dir, 'restarted', proc(1, 5000))).sort()).toEqual(['one', 'same-process']);
  });

  it('forgets an instance that stopped cleanly, and survives an unreadable file', async () => {
    alivePids.clear();
    await registerInstance(dir, 'clean', proc(30));
    await unregisterInstance(dir, 'clean');
    expect(await registerInstance(dir, 'next', proc(31))).toEqual([]);
    writeFileSync(path.join(dir, 'instances.json'), '{not json');
    expect(await registerInstance(dir, 'after', proc(32))).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(dir, 'instances.json'), 'utf8'))).toEqual([{ id: 'after', host: 'h1', pid: 32, started: 1000 }]);
  });
});
