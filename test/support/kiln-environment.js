// Jest's node environment, with a temp folder of its own for each test file. graphql-upload
// stores uploads in os.tmpdir(), which reads the worker's real environment (a test's
// process.env is a copy), so the folder is set here, outside the sandbox: a test can then see
// that no upload is left behind without seeing another worker's.
const { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync } = require('node:fs');
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
    this.testPath = context.testPath;
    if (process.env.KILN_TEST_CPU_REPORT) this.cpuAtStart = processCpu();
  }

  async teardown() {
    await super.teardown();
    rmSync(this.tmpDir, { recursive: true, force: true });
    // KILN_TEST_CPU_REPORT=file: each test file's CPU seconds, one JSON line per file, to see where
    // the suite's time goes (the worker's own, and its ended child processes': CLIs, gateways).
    // PostgreSQL's share is the server's, not a file's.
    const report = process.env.KILN_TEST_CPU_REPORT;
    if (report) {
      const end = processCpu();
      const seconds = (n) => Math.round(n * 100) / 100;
      const line = { file: path.relative(process.cwd(), this.testPath), self: seconds(end.self - this.cpuAtStart.self), children: seconds(end.children - this.cpuAtStart.children) };
      appendFileSync(report, `${JSON.stringify(line)}\n`);
    }
  }
}

/** This process's CPU seconds so far (user + system), and its reaped children's, from /proc (Linux). */
function processCpu() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the command name may hold ') '
  const ticks = (from, to) => fields.slice(from, to).reduce((sum, n) => sum + Number(n), 0) / 100; // USER_HZ
  // After the command: state is field 3 (index 0 here), utime/stime 14-15, cutime/cstime 16-17.
  return { self: ticks(11, 13), children: ticks(13, 15) };
}

module.exports = KilnEnvironment;
