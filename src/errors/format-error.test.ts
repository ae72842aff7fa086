import { GraphQLError } from 'graphql';
import { createLogger } from '../logging/logger';
import { createErrorFormatter } from './format-error';
import { NotFoundError } from './kiln-errors';

/** The formatter with the log lines it writes. */
function formatter() {
  const lines: Array<Record<string, any>> = [];
  const format = createErrorFormatter(createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) }));
  return { format, lines };
}

/** An error as graphql-js hands a resolver's throw to the formatter. */
function fromResolver(err: Error): GraphQLError {
  return new GraphQLError(err.message, { path: ['backups'], originalError: err });
}

describe('the error formatter', () => {
  it('masks an unexpected error: the client gets a reference, the log its message and stack under it', () => {
    const { format, lines } = formatter();
    const error = fromResolver(new Error('relation "kiln.secret_table" does not exist'));
    const shown = format(error.toJSON(), error);
    expect(shown).toMatchObject({ path: ['backups'], extensions: { code: 'INTERNAL', reference: expect.any(String) } });
    const reference = shown.extensions!.reference as string;
    expect(shown.message).toBe(`Internal server error (reference ${reference})`);
    expect(JSON.stringify(shown)).not.toContain('secret_table');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'error', msg: 'unexpected error', reference, err: expect.objectContaining({ message: expect.stringContaining('secret_table'), stack: expect.any(String) }) }),
    ]);
  });

  it('gives each masked error its own reference', () => {
    const { format } = formatter();
    const error = fromResolver(new Error('boom'));
    expect(format(error.toJSON(), error).extensions!.reference).not.toBe(format(error.toJSON(), error).extensions!.reference);
  });

  it('shows Kiln’s own errors as they are, and logs nothing', () => {
    const { format, lines } = formatter();
    const error = fromResolver(new NotFoundError('Backup', 'b1'));
    expect(format(error.toJSON(), error)).toMatchObject({ message: 'Backup "b1" does not exist', extensions: { code: 'NOT_FOUND', id: 'b1' } });
    expect(lines).toEqual([]);
  });
});
