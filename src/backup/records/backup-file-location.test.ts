import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appCloudCopy, cloudCopyOfUrl, localPathProblem, resolveLocalFile } from './backup-file-location';

describe('where a backup_records row points', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'kiln-location-'));
  const [kilnDir, appDir] = [path.join(root, 'kiln'), path.join(root, 'app')];
  for (const dir of [kilnDir, appDir]) require('node:fs').mkdirSync(dir);
  writeFileSync(path.join(appDir, 'backup_a.json'), '{}');
  writeFileSync(path.join(root, 'outside.json'), '{}');
  symlinkSync(path.join(root, 'outside.json'), path.join(appDir, 'backup_link.json'));

  it('follows a path only to a file directly inside a backup folder', async () => {
    expect(await resolveLocalFile(path.join(appDir, 'backup_a.json'), [kilnDir, appDir])).toEqual({ dir: appDir, name: 'backup_a.json' });
    expect(await resolveLocalFile('backups/backup_a.json', [kilnDir, appDir])).toEqual({ dir: appDir, name: 'backup_a.json' });
    expect(await resolveLocalFile(path.join(appDir, 'missing.json'), [kilnDir, appDir])).toBeNull();
    for (const bad of ['../outside.json', `${appDir}/../outside.json`, path.join(root, 'outside.json'), '/etc/passwd', 'a\0b', '.hidden', path.join(appDir, 'backup_link.json')]) {
      expect([bad, await resolveLocalFile(bad, [kilnDir, appDir])]).toEqual([bad, { refused: expect.any(String) }]);
    }
    expect(localPathProblem('../../etc/passwd')).toMatch(/leaves the backup folders/);
  });

  it("reads only the app's own kind of cloud upload from its URL, never one of Kiln's authenticated copies", () => {
    expect(cloudCopyOfUrl('https://res.cloudinary.com/demo/raw/upload/v1700000000/millenium-backups/backup_x.json')).toEqual({
      publicId: 'millenium-backups/backup_x.json',
      type: 'upload',
    });
    expect(cloudCopyOfUrl('https://res.cloudinary.com/demo/raw/authenticated/s--abc--/v1/kiln-backups/kiln-backup-x.json.gz')).toBeNull();
    expect(cloudCopyOfUrl('not a url')).toBeNull();
    expect(appCloudCopy('backup_x.json')).toEqual({ publicId: 'millenium-backups/backup_x.json', type: 'upload' });
    expect(appCloudCopy('../x')).toBeNull();
  });
});
