import bcrypt from 'bcrypt';
import { readdirSync, readFileSync } from 'node:fs';
import { TooManyRequestsError } from '../errors/kiln-errors';
import { PasswordService } from './password.service';

describe('PasswordService', () => {
  it('hashes at its cost, verifies, and asks for a rehash of any other cost', async () => {
    const passwords = new PasswordService(10, 2);
    const hash = await passwords.hash('correct horse');
    expect(bcrypt.getRounds(hash)).toBe(10);
    expect(await passwords.verify('correct horse', hash)).toBe(true);
    expect(await passwords.verify('wrong horse', hash)).toBe(false);
    expect(await passwords.verify('anything', 'not a bcrypt hash')).toBe(false);
    expect(passwords.needsRehash(hash)).toBe(false);
    expect(passwords.needsRehash(await bcrypt.hash('x', 4))).toBe(true);
    expect(await passwords.verifyNothing('correct horse')).toBe(false);
    await passwords.close();
  });

  // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value (Linux keeps it per thread).
  const niceOfThreads = () =>
    readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[16]));

  it('checks on threads of the lowest priority, leaving the event loop its own', async () => {
    const before = niceOfThreads().filter((n) => n === 19).length;
    const passwords = new PasswordService(10, 2);
    const hash = await passwords.hash('p');
    await Promise.all([passwords.verify('p', hash), passwords.verify('q', hash)]);
    expect(niceOfThreads().filter((n) => n === 19).length - before).toBe(2);
    expect(Number(readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ')[16])).toBe(0);
    await passwords.close();
    expect(niceOfThreads().filter((n) => n === 19).length).toBe(before);
  });

  it('runs its threads at the nice value it is given (PASSWORD_CHECK_NICE)', async () => {
    const before = niceOfThreads().filter((n) => n === 7).length;
    const passwords = new PasswordService(4, 1, 7);
    await passwords.hash('p');
    expect(niceOfThreads().filter((n) => n === 7).length - before).toBe(1);
    await passwords.close();
  });

  it('runs at most `concurrency` checks and refuses past a bounded queue with TOO_MANY_REQUESTS', async () => {
    // The cheapest cost: the bound is what is tested, and nice-19 threads on a loaded machine get little CPU.
    const passwords = new PasswordService(4, 1);
    const hash = await passwords.hash('p');
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => passwords.verify('p', hash)));
    // 25 queued at once (p-limit starts the first only after a tick) are accepted; the rest are refused at once.
    expect(results.filter((r) => r.status === 'fulfilled' && r.value === true)).toHaveLength(25);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(5);
    expect(refused[0].reason).toBeInstanceOf(TooManyRequestsError);
    await passwords.close();
  });

  it('fails the checks not yet answered when it is closed, instead of calling them wrong passwords', async () => {
    const passwords = new PasswordService(12, 1);
    const hash = await passwords.hash('p');
    const checks = Promise.allSettled([passwords.verify('p', hash), passwords.verify('p', hash)]);
    await passwords.close();
    for (const check of await checks) {
      expect(check).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ name: 'PasswordWorkerError' }) });
    }
    await expect(passwords.verify('p', hash)).rejects.toThrow(/shut down/);
  });
});
