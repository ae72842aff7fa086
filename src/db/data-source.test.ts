import { ConfigError, loadConfig } from '../config/config';
import { withSessionSettings } from './data-source';

describe('withSessionSettings', () => {
  it("adds UTC and Kiln's search_path to the URL's own options, after them (a later -c wins)", () => {
    const url = new URL(withSessionSettings('postgresql://u:p%40ss@db.example:26257/app?sslmode=require&options=--cluster%3Dmy-cluster', 'kiln'));
    expect(url.searchParams.get('options')).toBe('--cluster=my-cluster -c TimeZone=UTC -c search_path=kiln,public');
    expect(url.searchParams.get('sslmode')).toBe('require');
    expect(url.password).toBe('p%40ss');
  });

  it('sets them on a URL without options', () => {
    expect(new URL(withSessionSettings('postgres://127.0.0.1:5432/kiln', 'kiln_ops')).searchParams.get('options')).toBe(
      '-c TimeZone=UTC -c search_path=kiln_ops,public',
    );
  });
});

describe('KILN_SCHEMA', () => {
  it('defaults to kiln and refuses public, pg_ schemas and anything that is not a plain identifier', () => {
    expect(loadConfig({}).database.kilnSchema).toBe('kiln');
    expect(loadConfig({ KILN_SCHEMA: 'kiln_ops' }).database.kilnSchema).toBe('kiln_ops');
    for (const bad of ['public', 'pg_kiln', 'Kiln', 'kiln;drop', 'a b', '1kiln']) {
      expect(() => loadConfig({ KILN_SCHEMA: bad })).toThrow(ConfigError);
    }
  });
});
