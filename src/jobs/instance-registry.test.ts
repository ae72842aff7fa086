import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { registerInstance, unregisterInstance, type GoneVerdict } from './instance-registry';

describe('instance registry of a data folder', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'kiln-registry-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Stands in for the database's verdict (instance-liveness.ts): gone is whatever is not alive.
  const alive = new Set<string>();
  const asked: string[][] = [];
  const verdict: GoneVerdict = async (ids) => {
    asked.push([...ids]);
    return ids.filter((id) => !alive.has(id));
  };
  beforeEach(() => {
    alive.clear();
    asked.length = 0;
  });

  it('knows nothing on a fresh folder, then returns the earlier instance once the verdict says it is gone', async () => {
    alive.add('a');
    expect(await registerInstance(dir, 'a', verdict)).toEqual([]);
    alive.clear();
    alive.add('b');
    expect(await registerInstance(dir, 'b', verdict)).toEqual(['a']);
    // Judged once: 'a' is gone from the file, and 'b' lives on.
    alive.add('c');
    expect(await registerInstance(dir, 'c', verdict)).toEqual([]);
    expect(asked.at(-1)).toEqual(['b']);
  });

  it('never judges a live instance sharing the folder (whatever its host or pid): it stays listed', async () => {
    alive.add('live');
    await registerInstance(dir, 'live', verdict);
    alive.add('new');
    expect(await registerInstance(dir, 'new', verdict)).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(dir, 'instances.json'), 'utf8'))).toEqual([{ id: 'live' }, { id: 'new' }]);
  });

  it('forgets an instance that stopped cleanly, and survives an unreadable file', async () => {
    await registerInstance(dir, 'clean', verdict);
    await unregisterInstance(dir, 'clean');
    expect(await registerInstance(dir, 'next', verdict)).toEqual([]);
    writeFileSync(path.join(dir, 'instances.json'), '{not json');
    expect(await registerInstance(dir, 'after', verdict)).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(dir, 'instances.json'), 'utf8'))).toEqual([{ id: 'after' }]);
  });

  it('reads a file written by an earlier version (host, pid, started): only the ids count', async () => {
    writeFileSync(path.join(dir, 'instances.json'), JSON.stringify([{ id: 'old', host: 'kiln', pid: 1, started: 1000 }]));
    alive.add('old');
    expect(await registerInstance(dir, 'new', verdict)).toEqual([]);
    expect(asked).toEqual([['old']]);
  });
});
