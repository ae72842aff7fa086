import { ConfigError, loadConfig } from './config';

describe('BCRYPT_COST', () => {
  it('is 10 to 15 wherever passwords are real, and refuses less with a message naming the test-suite exception', () => {
    expect(loadConfig({ BCRYPT_COST: '10' }).auth.bcryptCost).toBe(10);
    for (const env of [{}, { NODE_ENV: 'production' }, { NODE_ENV: 'development' }]) {
      expect(() => loadConfig({ ...env, BCRYPT_COST: '9' })).toThrow(/BCRYPT_COST: must be 10 to 15 \(got 9; lower costs are for the test suite, NODE_ENV=test\)/);
    }
    expect(() => loadConfig({ BCRYPT_COST: '16' })).toThrow(/BCRYPT_COST must be 10 to 15/);
    expect(() => loadConfig({ BCRYPT_COST: '3' })).toThrow(/BCRYPT_COST must be 10 to 15/);
  });

  it('goes down to bcrypt\'s cheapest, 4, under NODE_ENV=test only', () => {
    expect(loadConfig({ NODE_ENV: 'test', BCRYPT_COST: '4' }).auth.bcryptCost).toBe(4);
    expect(() => loadConfig({ NODE_ENV: 'test', BCRYPT_COST: '3' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', BCRYPT_COST: '3' })).toThrow(/4 to 15 under NODE_ENV=test/);
  });
});

describe('BACKUP_READ_SESSIONS', () => {
  it('is 2 unless set, takes 1, and refuses anything else naming the setting', () => {
    expect(loadConfig({}).backup.readSessions).toBe(2);
    expect(loadConfig({ BACKUP_READ_SESSIONS: '1' }).backup.readSessions).toBe(1);
    for (const bad of ['0', '3', '1.5', 'two']) {
      expect(() => loadConfig({ BACKUP_READ_SESSIONS: bad })).toThrow(/BACKUP_READ_SESSIONS/);
    }
  });
});
