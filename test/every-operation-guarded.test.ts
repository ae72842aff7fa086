/**
 * Walks the emitted schema (schema.graphql): every query, mutation and subscription but
 * `login` refuses an anonymous caller, and every one but `login` and `logout` refuses a
 * caller whose session belongs to a non-admin (a lending-app staff member).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { uploadOperation } from './support/restore-helpers';
import { gql, staffToken as staffTokenFor, startTestKiln, type TestKiln } from './support/test-kiln';

const schema = buildSchema(readFileSync(path.join(__dirname, '../schema.graphql'), 'utf8'));
const OPEN_TO_ANYONE = new Set(['login']);
const OPEN_TO_ANY_SESSION = new Set(['login', 'logout']);

/** A literal of the argument's type, valid enough to reach the resolver's guard. */
function literal(type: GraphQLInputType): string {
  if (isNonNullType(type)) return literal(type.ofType);
  if (isListType(type)) return `[${literal(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0].name;
  if (isInputObjectType(type)) {
    const required = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) && f.defaultValue === undefined);
    return `{ ${required.map((f) => `${f.name}: ${literal(f.type)}`).join(', ')} }`;
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'Int':
      case 'Float':
      case 'SafeInt':
        return '1';
      case 'Boolean':
        return 'false';
      case 'DateTimeISO':
        return '"2026-01-01T00:00:00.000Z"';
      case 'JSONObject':
        return '{}';
      default:
        return '"x"';
    }
  }
  return 'null';
}

/** A required file cannot be a literal: it travels as $file in a multipart request. */
const isUpload = (a: GraphQLArgument) => getNamedType(a.type).name === 'Upload';

function operation(kind: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((a: GraphQLArgument) => isNonNullType(a.type) && a.defaultValue === undefined);
  const argList = args.length ? `(${args.map((a) => `${a.name}: ${isUpload(a) ? '$file' : literal(a.type)}`).join(', ')})` : '';
  const variables = args.some(isUpload) ? '($file: Upload!)' : '';
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${kind}${variables} { ${field.name}${argList}${selection} }`;
}

/** The operation as JSON, or as a multipart upload (with a small file) when it takes one. */
async function send(text: string, token?: string): Promise<{ errors?: Array<{ extensions?: { code?: string } }>; data?: unknown }> {
  if (!text.includes('$file')) return gql(kiln.url, text, {}, token);
  return (await uploadOperation(kiln.url, token, text, Buffer.from('{}'))).body;
}

const operations = (['query', 'mutation'] as const).flatMap((kind) => {
  const type = kind === 'query' ? schema.getQueryType()! : schema.getMutationType()!;
  return Object.values(type.getFields()).map((field) => ({ kind, name: field.name, text: operation(kind, field) }));
});

let kiln: TestKiln;
let staffToken: string;

beforeAll(async () => {
  kiln = await startTestKiln();
  staffToken = (await staffTokenFor(kiln.databaseUrl)).token;
});
afterAll(async () => kiln?.close());

it('finds every operation of the schema', () => {
  const names = operations.map((o) => o.name);
  for (const name of ['backups', 'job', 'me', 'createBackup', 'restoreBackup', 'inspectBackupFile', 'resetSystem', 'updateBackupSchedule', 'setMaintenanceMode', 'login', 'logout']) {
    expect(names).toContain(name);
  }
});

it.each(operations.filter((o) => !OPEN_TO_ANYONE.has(o.name)).map((o) => [o.name, o.text]))('%s refuses an anonymous caller', async (_name, text) => {
  const res = await send(text);
  expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(JSON.stringify(res.data ?? null)).not.toMatch(/__typename/);
});

it.each(operations.filter((o) => !OPEN_TO_ANY_SESSION.has(o.name)).map((o) => [o.name, o.text]))('%s refuses a non-admin session', async (_name, text) => {
  const res = await send(text, staffToken);
  expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect(JSON.stringify(res.data ?? null)).not.toMatch(/__typename/);
});

it.each([
  ['no token', {}, 4401],
  ['a non-admin session', { authorization: `Bearer STAFF` }, 4403],
])('every subscription refuses a socket with %s', async (_what, params: Record<string, string>, code) => {
  for (const field of Object.values(schema.getSubscriptionType()!.getFields())) {
    const connectionParams = params.authorization ? { authorization: `Bearer ${staffToken}` } : {};
    const closed = await new Promise<number>((resolve) => {
      const client = createClient({
        url: `${kiln.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams,
        retryAttempts: 0,
        on: { closed: (e) => resolve((e as { code: number }).code) },
      });
      client.subscribe({ query: operation('subscription', field) }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    });
    expect([field.name, closed]).toEqual([field.name, code]);
  }
});
