import { Client } from 'pg';
import { LENDING_TABLES } from '../../src/domain';
import { createReadStream, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readBackup } from '../../src/backup/format/backup-reader';
import { BackupSigner } from '../../src/backup/format/backup-signature';
import { BackupWriter } from '../../src/backup/format/backup-writer';
import { gql, loginToken, TEST_BACKUP_SIGNING_KEY } from './test-kiln';
import { until } from './until';

/** Signs as every test gateway does. */
export const TEST_SIGNER = new BackupSigner(TEST_BACKUP_SIGNING_KEY);

/** {@link fingerprint} of the database at `url`, on a connection of its own. */
export async function fingerprintAt(url: string, tables: readonly string[] = LENDING_TABLES): Promise<Record<string, string>> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return await fingerprint(db, tables);
  } finally {
    await db.end();
  }
}

/**
 * md5 of every lending table's rows in id order: equal fingerprints, equal data. A refused
 * dangerous mutation is written down (MUTATION_REFUSED in the audit trail): that entry is what a
 * refusal changes, so it is left out.
 */
export async function fingerprint(db: Client, tables: readonly string[] = LENDING_TABLES): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of tables) {
    const refusals = t === 'AuditLog' ? ` WHERE x.action <> 'MUTATION_REFUSED'` : '';
    const { rows } = await db.query(`SELECT count(*) AS n, md5(coalesce(string_agg(row_to_json(x)::text, ',' ORDER BY id), '')) AS h FROM "${t}" x${refusals}`);
    out[t] = `${rows[0].n}:${rows[0].h}`;
  }
  return out;
}

const SET_MAINTENANCE = 'mutation($on: Boolean!) { setMaintenanceMode(enabled: $on) { enabled } }';

/**
 * `fn` with maintenance mode on, as a restore needs it. Whatever `fn` did, the gateway leaves
 * maintenance afterwards and `signedIn` gets a new admin token (a restore logs everybody out):
 * the tests after it find neither.
 */
export async function inMaintenance<T>(url: string, token: string, signedIn: (token: string) => void, fn: () => Promise<T>): Promise<T> {
  const on = await gql(url, SET_MAINTENANCE, { on: true }, token);
  if (on.errors) throw new Error(`maintenance mode refused: ${JSON.stringify(on.errors)}`);
  const outcome = await fn().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const cleanedUp = (async () => {
    const fresh = await loginToken(url);
    signedIn(fresh);
    const off = await gql(url, SET_MAINTENANCE, { on: false }, fresh);
    if (off.errors) throw new Error(`leaving maintenance mode refused: ${JSON.stringify(off.errors)}`);
  })();
  // fn's failure first, whatever the cleanup did: it says what went wrong.
  if ('error' in outcome) {
    await cleanedUp.catch(() => undefined);
    throw outcome.error;
  }
  await cleanedUp;
  return outcome.value;
}

export const RESTORE = 'mutation($id: ID, $allowUnsigned: Boolean) { restoreBackup(id: $id, allowUnsigned: $allowUnsigned) { id kind status } }';
export const RESTORE_FILE = 'mutation($file: Upload, $allowUnsigned: Boolean) { restoreBackup(file: $file, allowUnsigned: $allowUnsigned) { id kind status } }';

/**
 * A multipart request as Apollo clients send uploads (graphql-multipart-request-spec):
 * `query` with the file as $file and `variables` beside it.
 */
export async function uploadOperation(
  baseUrl: string,
  token: string | undefined,
  query: string,
  body: Buffer,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = { 'apollo-require-preflight': 'true' },
) {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([body]), 'backup.json');
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A restore of an uploaded file; `allowUnsigned` for files no test gateway signed (the app's, hand-made ones). */
export function uploadRestore(
  baseUrl: string,
  token: string | undefined,
  body: Buffer,
  headers: Record<string, string> = { 'apollo-require-preflight': 'true' },
  { allowUnsigned = false }: { allowUnsigned?: boolean } = {},
) {
  return uploadOperation(baseUrl, token, RESTORE_FILE, body, { allowUnsigned }, headers);
}

/**
 * A well-formed backup document (valid checksum, signed with the test gateways' key unless
 * `signer` is null) from a parsed one, after `mutate` changed its data: for files that are
 * intact as files but wrong as data.
 */
export async function craftBackup(
  doc: any,
  mutate: (data: Record<string, any[]>, header: any) => void = () => undefined,
  signer: BackupSigner | null = TEST_SIGNER,
): Promise<Buffer> {
  const data = structuredClone(doc.data) as Record<string, any[]>;
  const header = structuredClone(doc.header);
  mutate(data, header);
  header.tables = Object.keys(data);
  const writer = new BackupWriter(header, signer ?? undefined);
  const chunks: Buffer[] = [];
  writer.output.on('data', (c: Buffer) => chunks.push(c));
  for (const table of header.tables) {
    await writer.beginTable(table);
    for (const row of data[table]) await writer.writeRow(typeof row === 'string' ? row : JSON.stringify(row));
    await writer.endTable();
  }
  await writer.finish();
  return Buffer.concat(chunks);
}

/** A backup file as its header and raw row texts (exactly as written), for crafting variants. */
export async function rawBackup(file: string): Promise<{ header: any; data: Record<string, string[]> }> {
  const data: Record<string, string[]> = {};
  let header: any;
  let table = '';
  for await (const e of readBackup(createReadStream(file))) {
    if (e.kind === 'header') header = e.header;
    else if (e.kind === 'table') data[(table = e.name)] = [];
    else if (e.kind === 'row') data[table].push(e.json);
  }
  return { header, data };
}

/** Uploaded files still stored: graphql-upload's temporary files (each test file has its own temp folder). */
export function uploadsLeft(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('capacitor-'));
}

/** Waits until no upload is stored (a file goes once its last reader closed, just after its job ends); throws naming them if one stays. */
export async function noUploadsLeft(): Promise<void> {
  await until('every uploaded file to be deleted', async () => uploadsLeft(), (left) => left.length === 0, 10_000, 50);
}

/** Uploads a file for restore; the failed job's code and message (or the request's own error). */
export async function failedUpload(
  kiln: { url: string; services: { jobs: { settled(id: string): Promise<unknown>; get(id: string): Promise<any> } } },
  token: string,
  file: Buffer,
  options: { allowUnsigned?: boolean } = {},
): Promise<{ code?: string; message: string }> {
  const res = await uploadRestore(kiln.url, token, file, undefined, options);
  if (res.body.errors) return { code: res.body.errors[0].extensions?.code, message: res.body.errors[0].message };
  const id = res.body.data.restoreBackup.id;
  await kiln.services.jobs.settled(id);
  const job = await kiln.services.jobs.get(id);
  if (job.status !== 'FAILED') throw new Error(`the restore was expected to fail, it ended ${job.status}`);
  return { code: job.errorCode ?? undefined, message: job.error ?? '' };
}

/**
 * Waits until a statement of this database waits for a table's lock (a job held by a test's
 * locker or reader); its pid and text. Row-lock waits (two updates of one job row, a moment
 * under load) are not what the tests hold, so they do not count. With `queryLike` (a LIKE pattern),
 * only a statement whose text matches: the one the test holds, not the gateway's own sweeps.
 */
export async function statementWaitingOnLock(db: Client, queryLike = '%'): Promise<{ pid: number; query: string }> {
  const [waiting] = await until(
    'a statement to wait for a table lock',
    async () =>
      (
        await db.query(
          `SELECT pid, query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'relation' AND datname = current_database() AND query LIKE $1`,
          [queryLike],
        )
      ).rows,
    (rows) => rows.length > 0,
    30_000,
    50,
  );
  return waiting;
}

/**
 * The shape of the app's tables as PostgreSQL prints it: every index (definition and marks),
 * constraint (definition, validated) and NOT NULL. A restore drops and builds keys and indexes
 * inside its transaction: after it commits or rolls back, this is what it was before.
 */
export async function tableShape(db: Client): Promise<unknown> {
  const indexes = await db.query(
    `SELECT t.relname AS "table", ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, i.indisprimary, i.indisunique, i.indisclustered, i.indisreplident, i.indisvalid
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE t.relnamespace = 'public'::regnamespace ORDER BY 1, 2`,
  );
  const constraints = await db.query(
    `SELECT c.relname AS "table", con.conname AS name, con.contype, pg_get_constraintdef(con.oid) AS definition, con.convalidated, con.condeferrable
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid WHERE con.connamespace = 'public'::regnamespace ORDER BY 1, 2`,
  );
  const notNull = await db.query(
    `SELECT c.relname AS "table", a.attname AS column FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull ORDER BY 1, 2`,
  );
  return { indexes: indexes.rows, constraints: constraints.rows, notNull: notNull.rows };
}
