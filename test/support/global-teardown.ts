import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__KILN_TEST_PG__?.stop();
  if (process.env.KILN_TEST_DATA_DIR) rmSync(process.env.KILN_TEST_DATA_DIR, { recursive: true, force: true });
}
