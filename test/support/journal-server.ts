/** Why the test server cannot run the change journal (global setup asked it); empty when it can. */
const journalMissing: string[] = JSON.parse(process.env.KILN_TEST_JOURNAL_MISSING ?? '[]') as string[];

/**
 * `describe` for tests that stream the change journal from the test server, or `describe.skip` on
 * a server named by KILN_TEST_DATABASE_URL that cannot run it, e.g. with wal_level = replica
 * (global setup prints why). On the embedded server they always run. journal-pg15.test.ts runs
 * the journal on PostgreSQL 15 in a cluster of its own, whatever the test server.
 */
export function describeWithJournal(name: string, body: () => void): void {
  (journalMissing.length > 0 ? describe.skip : describe)(name, body);
}
