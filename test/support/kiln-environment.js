// Jest's node environment, with a temp folder of its own for each test file. graphql-upload
// stores uploads in os.tmpdir(), which reads the worker's real environment (a test's
// process.env is a copy), so the folder is set here, outside the sandbox: a test can then see
// that no upload is left behind without seeing another worker's.
const { chmodSync, mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

class KilnEnvironment extends TestEnvironment {
  constructor(config, context) {
    // The worker's own temp folder, remembered before the first test file changed it.
    process.env.KILN_TEST_TMP_BASE ??= tmpdir();
    const dir = mkdtempSync(path.join(process.env.KILN_TEST_TMP_BASE, 'kiln-test-tmp-'));
    // Like /tmp itself: an embedded PostgreSQL started as root runs as another user, who must reach its folder in here.
    chmodSync(dir, 0o1777);
    process.env.TMPDIR = dir; // before super(): the sandbox's process.env is copied from it
    super(config, context);
    this.tmpDir = dir;
  }

  async teardown() {
    await super.teardown();
    rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

module.exports = KilnEnvironment;
