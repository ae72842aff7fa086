import { missingForJournal, type LogicalDecodingFacts } from './logical-decoding';

const ready: LogicalDecodingFacts = {
  cockroachDb: false,
  walLevel: 'logical',
  role: 'kiln',
  canReplicate: true,
  maxSlots: 10,
  slotsInUse: 2,
  maxWalSenders: 10,
  walSendersInUse: 0,
  canCreatePublication: true,
  tablesNotOwned: [],
  tablesMissing: [],
  serverVersion: 170000,
  tablesWithoutKeyIdentity: [],
};

describe('missingForJournal', () => {
  it('finds nothing missing on a ready server', () => {
    expect(missingForJournal(ready)).toEqual([]);
  });

  it('says what to set for each lack, in the order a fix is made', () => {
    expect(missingForJournal({ ...ready, walLevel: 'replica', canReplicate: false, maxWalSenders: 0, canCreatePublication: false, tablesMissing: ['Repayment'], tablesNotOwned: ['Loan'] })).toEqual([
      expect.stringMatching(/^wal_level is replica, logical decoding needs logical .*rds\.logical_replication = 1, Cloud SQL: cloudsql\.logical_decoding = on\)$/),
      'the role kiln may not replicate (ALTER ROLE kiln WITH REPLICATION; Amazon RDS: GRANT rds_replication TO kiln)',
      'no WAL sender is free (max_wal_senders = 0, 0 in use)',
      'the role kiln may not create a publication in this database (GRANT CREATE ON DATABASE … TO kiln)',
      'this database has no "Repayment": the journal follows the lending app\'s own database',
      'the role kiln does not own "Loan", which a publication of them needs',
    ]);
  });

  it('refuses PostgreSQL before 14, and tables not replicated by primary key', () => {
    expect(missingForJournal({ ...ready, serverVersion: 130012, tablesWithoutKeyIdentity: ['Loan'] })).toEqual([
      'PostgreSQL 13 is too old for the journal: it needs PostgreSQL 14 or later',
      expect.stringMatching(/^"Loan" is not replicated by primary key \(REPLICA IDENTITY DEFAULT with a primary key/),
    ]);
  });

  it('refuses CockroachDB alone, naming what it offers instead', () => {
    expect(missingForJournal({ ...ready, cockroachDb: true })).toEqual([expect.stringMatching(/^CockroachDB has no PostgreSQL logical decoding: use its managed backups/)]);
  });
});
