/**
 * Writes schema.graphql from the code (`npm run schema`), or with --check fails
 * when the committed file differs from what the code produces.
 */
import 'reflect-metadata';
import '../config/utc';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { emitSchemaDefinitionFile } from 'type-graphql';
import { buildKilnSchema } from './schema';

const SCHEMA_FILE = path.resolve(__dirname, '../../../schema.graphql');

async function main(): Promise<void> {
  const schema = await buildKilnSchema();
  if (!process.argv.includes('--check')) {
    await emitSchemaDefinitionFile(SCHEMA_FILE, schema);
    console.log(`wrote ${SCHEMA_FILE}`);
    return;
  }
  const fresh = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-schema-')), 'schema.graphql');
  await emitSchemaDefinitionFile(fresh, schema);
  if (readFileSync(fresh, 'utf8') !== readFileSync(SCHEMA_FILE, 'utf8')) {
    console.error('schema.graphql is stale: run `npm run schema` and commit the result');
    process.exit(1);
  }
  console.log('schema.graphql is up to date');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
