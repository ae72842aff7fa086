import { rmSync } from 'node:fs';
import { dropMigratedTemplate } from './test-database';

export default async function globalTeardown(): Promise<void> {
  if (globalThis.__KILN_TEST_PG__) await globalThis.__KILN_TEST_PG__.stop();
  else if (process.env.KILN_TEST_SERVER_URL) await dropMigratedTemplate(); // a shared server keeps nothing of this run
  if (process.env.KILN_TEST_DATA_DIR) rmSync(process.env.KILN_TEST_DATA_DIR, { recursive: true, force: true });
}
