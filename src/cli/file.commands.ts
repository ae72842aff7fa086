import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import type { Command } from 'commander';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { readBackupFileFacts, type BackupFileFacts } from '../backup/format/backup-file-facts';
import { BackupFormatError } from '../backup/format/backup-reader';
import { BackupSigner, SignatureCheck } from '../backup/format/backup-signature';
import { ConfigError, loadFileToolConfig } from '../config/config';
import { BackupKeyError, parseKeyList } from '../crypto/backup-key';
import { decryptIfEncrypted, readHead } from '../crypto/decrypt-if-encrypted';
import { DecryptionError, ENCRYPTION_MAGIC, isEncrypted } from '../crypto/encryption';
import { CliError, ExitCode } from './exit-codes';
import { describe as describeJob, progressOutput } from './job-follower';
import { positiveInteger } from './option-values';

// Bounds one statement of the script (rows of at most MAX_BACKUP_LINE_BYTES each).
const MAX_ROWS_PER_STATEMENT = 10_000;

interface FileOptions {
  json?: boolean;
  keyFile?: string;
  signingKeyFile?: string;
  allowUnsigned?: boolean;
}

/** `kiln file …`: backup files on this machine, no gateway and no database needed. */
export function registerFileCommands(program: Command): void {
  const file = program.command('file').description('work with a backup file directly: no gateway, no database');
  const keyOptions = (command: Command) =>
    command
      .option('--key-file <path>', 'decryption keys, one per line (besides BACKUP_ENCRYPTION_KEY and BACKUP_DECRYPTION_KEYS)')
      .option('--signing-key-file <path>', 'the signing key to check the signature with (instead of BACKUP_SIGNING_KEY)')
      .option('--json', 'one JSON object instead of text');

  keyOptions(file.command('inspect <file>').description('what the file is and holds: format, time, tables and counts, compression, encryption, signature, checksums')).action(
    async (path: string, options: FileOptions) => {
      const facts = await readFacts(path, options);
      process.stdout.write(options.json ? `${JSON.stringify(facts)}\n` : describe(path, facts));
    },
  );

  file
    .command('restore <file>')
    .description('restore the file into a database with no gateway (the gateway\'s own restore): an empty database gets the lending schema first')
    .requiredOption('--database-url <url>', 'the database to restore into (postgres://…)')
    .option('--yes', 'no question (for scripts)')
    .option('--force', 'restore even while a gateway runs a job on that database with maintenance mode off')
    .option('--allow-unsigned', 'restore a file whose signature does not verify (an app backup, a file you trust, or the signing key is lost)')
    .option('--signing-key-file <path>', 'the signing key to check the signature with (instead of BACKUP_SIGNING_KEY)')
    .option('--safety-dir <dir>', 'where the PRE_RESTORE backup of what the database held goes', './kiln-safety-backups')
    .option('--json', 'JSON lines')
    .action(async (path: string, options: { databaseUrl: string; yes?: boolean; force?: boolean; allowUnsigned?: boolean; signingKeyFile?: string; safetyDir: string; json?: boolean }) => {
      const output = progressOutput(options.json);
      // Loaded for this command only: it brings the database layer, which no other command needs.
      // (require, not import(): an ES import of this CommonJS build may not see its named exports.)
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { restoreFileOffline } = require('./offline-restore') as typeof import('./offline-restore.js');
      const job = await restoreFileOffline(path, options, output);
      if (output === 'tty') process.stdout.write(`${describeJob(job)}\n`);
      if (!options.json) process.stdout.write('Restored. Every session was ended: everybody signs in again.\n');
    });

  keyOptions(
    file
      .command('export-sql <file>')
      .description('the backup as a plain SQL script for an empty lending schema (psql -v ON_ERROR_STOP=1 -f, PostgreSQL or CockroachDB)')
      .requiredOption('-o, --output <file>', 'where to write the script')
      .option('--rows-per-statement <n>', `rows per INSERT (smaller statements for a server with a small message limit), 1 to ${MAX_ROWS_PER_STATEMENT}`, (v) => positiveInteger(v, '--rows-per-statement', MAX_ROWS_PER_STATEMENT), 500),
  ).action(async (path: string, options: FileOptions & { output: string; rowsPerStatement: number }) => {
    const facts = await readFacts(path, options);
    if (!facts.checksum.matches) throw new CliError(`${path}: the data does not match its checksum: the file was changed or damaged; nothing was exported`);
    const { readKeys, read } = await keys(options);
    const partial = `${options.output}.partial-${process.pid}`;
    try {
      const out = await openNewFile(partial);
      // Loaded for this command only: it reads the lending tables' keys from the entities (TypeORM).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { headerOfFacts, sqlExport } = require('../backup/format/sql-export') as typeof import('../backup/format/sql-export.js');
      await pipelineAsync(Readable.from(sqlExport(createReadStream(path), headerOfFacts(basename(path), facts), { readKeys, limits: read, rowsPerStatement: options.rowsPerStatement })), out);
      await rename(partial, options.output);
    } catch (err) {
      await rm(partial, { force: true });
      if (err instanceof BackupFormatError || err instanceof DecryptionError) throw new CliError(`${path}: ${err.message}`);
      throw err;
    }
    process.stdout.write(options.json ? `${JSON.stringify({ output: options.output, tables: facts.tables, rows: facts.rows })}\n` : `${options.output}: ${facts.rows.toLocaleString('en')} rows in ${facts.tables.length} tables\n`);
  });

  file
    .command('decrypt <file>')
    .description('writes the plain backup (as the gateway reads it: still gzip if it was) to a new file, readable by you only')
    .requiredOption('-o, --output <file>', 'where to write it')
    .option('--key-file <path>', 'decryption keys, one per line (besides BACKUP_ENCRYPTION_KEY and BACKUP_DECRYPTION_KEYS)')
    .action(async (path: string, options: FileOptions & { output: string }) => {
      await decryptFile(path, options.output, options);
      process.stdout.write(`${options.output}: decrypted from ${path}\n`);
    });

  keyOptions(
    file
      .command('verify <file>')
      .description('every check that needs no database: readable, checksum, counts, signature (with the signing key); exit 0 or 1')
      .option('--allow-unsigned', 'pass a file without a signature (an app backup, or one from before signing)'),
  ).action(async (path: string, options: FileOptions) => {
    const facts = await readFacts(path, options);
    const problems = verificationProblems(facts, options);
    if (options.json) process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, problems, facts })}\n`);
    else process.stdout.write(problems.length === 0 ? `${path}: OK (${facts.rows.toLocaleString('en')} rows in ${facts.tables.length} tables, ${signatureWords(facts)})\n` : '');
    if (problems.length > 0) throw new CliError(`${path}: ${problems.join('; ')}`);
  });
}

async function decryptFile(path: string, output: string, options: FileOptions): Promise<void> {
  const { readKeys } = await keys(options);
  if (!(await stat(path).catch(() => null))?.isFile()) throw new CliError(`${path}: no such file`);
  const input = createReadStream(path);
  const head = await readHead(input, ENCRYPTION_MAGIC.length);
  input.unshift(head);
  if (!isEncrypted(head)) {
    input.destroy();
    throw new CliError(`${path}: the file is not encrypted`);
  }
  // Written beside the target and renamed at the end: a failed decryption (a wrong key, a damaged
  // chunk) leaves no partial file that could pass for the backup.
  const partial = `${output}.partial-${process.pid}`;
  try {
    const out = await openNewFile(partial);
    await pipelineAsync(await decryptIfEncrypted(input, readKeys), out);
    await rename(partial, output);
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof DecryptionError) throw new CliError(`${path}: ${err.message}`);
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${partial} exists already (another decryption running?)`);
    throw err;
  }
}

async function readFacts(path: string, options: FileOptions): Promise<BackupFileFacts> {
  const { readKeys, signingKey, read } = await keys(options);
  if (!(await stat(path).catch(() => null))?.isFile()) throw new CliError(`${path}: no such file`);
  try {
    return await readBackupFileFacts(createReadStream(path), { readKeys, signer: signingKey ? new BackupSigner(signingKey) : undefined, limits: read });
  } catch (err) {
    if (err instanceof BackupFormatError || err instanceof DecryptionError) throw new CliError(`${path}: ${err.message}`);
    throw err;
  }
}

/** The gateway's variables, plus the files named on the command line. */
async function keys(options: FileOptions) {
  try {
    const config = loadFileToolConfig();
    const extra = options.keyFile ? parseKeyList(await readFile(options.keyFile, 'utf8')) : [];
    const signingKey = options.signingKeyFile ? (await readFile(options.signingKeyFile, 'utf8')).trim() : config.signingKey;
    if (signingKey !== undefined && signingKey.length < 32) throw new CliError('the signing key must be at least 32 characters', ExitCode.USAGE);
    return { ...config, readKeys: [...config.readKeys, ...extra], signingKey };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.problems.join('; '), ExitCode.USAGE);
    if (err instanceof BackupKeyError) throw new CliError(err.message, ExitCode.USAGE);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`${(err as NodeJS.ErrnoException).path}: no such file`, ExitCode.USAGE);
    throw err;
  }
}

function verificationProblems(facts: BackupFileFacts, options: FileOptions): string[] {
  const problems: string[] = [];
  if (!facts.checksum.matches) problems.push(`the data does not match its checksum (recorded ${facts.checksum.recorded}, computed ${facts.checksum.computed}): the file was changed or damaged`);
  const check = facts.signature.check;
  if (check === SignatureCheck.MISMATCH) problems.push('the signature does not match: the file was changed after Kiln signed it');
  if (check === SignatureCheck.OTHER_KEY) problems.push(`signed with another key (key id ${facts.signature.keyId}): give that key to check it`);
  if (check === SignatureCheck.UNSIGNED && !options.allowUnsigned) problems.push('the file carries no Kiln signature (use --allow-unsigned for an app backup or one from before signing)');
  return problems;
}

function signatureWords(facts: BackupFileFacts): string {
  switch (facts.signature.check) {
    case 'NOT_CHECKED':
      return `signed (key id ${facts.signature.keyId}), not checked: set BACKUP_SIGNING_KEY or --signing-key-file`;
    case SignatureCheck.VALID:
      return `signature valid (key id ${facts.signature.keyId})`;
    case SignatureCheck.UNSIGNED:
      return 'not signed';
    case SignatureCheck.OTHER_KEY:
      return `signed with another key (key id ${facts.signature.keyId})`;
    case SignatureCheck.MISMATCH:
      return 'SIGNATURE DOES NOT MATCH';
  }
}

function describe(path: string, f: BackupFileFacts): string {
  const width = Math.max(...f.tables.map((t) => t.name.length), 5);
  const lines = [
    `file        ${path} (${f.file.bytes.toLocaleString('en')} bytes, sha256 ${f.file.sha256})`,
    `format      ${f.format} ${f.formatVersion}${f.kilnVersion ? `, written by Kiln ${f.kilnVersion}` : ''}${f.schemaVersion ? `, schema ${f.schemaVersion}` : ''}`,
    `created     ${f.createdAt ?? 'unknown'}${f.backupId ? ` (backup ${f.backupId})` : ''}`,
    `compressed  ${f.compressed ? 'yes (gzip)' : 'no'}`,
    `encrypted   ${f.encryptedWithKeyId ? `yes (key id ${f.encryptedWithKeyId})` : 'no'}`,
    `signature   ${signatureWords(f)}`,
    `checksum    ${f.checksum.recorded} (${f.checksum.matches ? 'matches the data' : `DOES NOT MATCH the data: ${f.checksum.computed}`})`,
    `tables      ${f.tables.length}, ${f.rows.toLocaleString('en')} rows`,
    ...f.tables.map((t) => `  ${t.name.padEnd(width)}  ${t.rows.toLocaleString('en').padStart(12)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * A new owner-only file, open before anything is written: a source that fails at once (a wrong
 * key) would otherwise race the open, and the file could appear after the clean-up removed it.
 */
async function openNewFile(file: string): Promise<WriteStream> {
  const out = createWriteStream(file, { mode: 0o600, flags: 'wx' });
  await once(out, 'open');
  return out;
}
