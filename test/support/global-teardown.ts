export default async function globalTeardown(): Promise<void> {
  await globalThis.__KILN_TEST_PG__?.stop();
}
