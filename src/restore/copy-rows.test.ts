import { rowToCopyLine } from './copy-rows';

const columns = (...names: string[]) => new Map(names.map((n, i) => [n, i]));

describe('rowToCopyLine', () => {
  it('keeps numbers exactly as written and maps booleans and null', () => {
    const line = rowToCopyLine('{"a":12.50,"b":123456789012345678901234567890.000001,"c":true,"d":false,"e":null,"f":-1e-7}', columns('a', 'b', 'c', 'd', 'e', 'f'), 6, 'T');
    expect(line).toBe('12.50\t123456789012345678901234567890.000001\tt\tf\t\\N\t-1e-7\n');
  });

  it('decodes JSON strings and escapes them for COPY text', () => {
    const json = JSON.stringify({ name: 'Zoë 🏺 陶器 "quoted" back\\slash', text: 'line1\nline2\r\ttab', sep: '\u2028\u2029', empty: '' });
    expect(rowToCopyLine(json, columns('name', 'text', 'sep', 'empty'), 4, 'T')).toBe(
      'Zoë 🏺 陶器 "quoted" back\\\\slash\tline1\\nline2\\r\\ttab\t\u2028\u2029\t\n',
    );
  });

  it('passes nested JSON through as text, backslashes doubled', () => {
    const json = '{"id":"x","meta":{"a":[1,{"b":null}],"s":"q\\"uote\\\\ }] {["},"list":[1,2]}';
    expect(rowToCopyLine(json, columns('id', 'meta', 'list'), 3, 'T')).toBe('x\t{"a":[1,{"b":null}],"s":"q\\\\"uote\\\\\\\\ }] {["}\t[1,2]\n');
  });

  it('puts \\N where a row lacks a key, in table column order whatever the key order', () => {
    expect(rowToCopyLine('{"c":3,"a":1}', columns('a', 'b', 'c'), 3, 'T')).toBe('1\t\\N\t3\n');
    expect(rowToCopyLine('{}', columns('a'), 1, 'T')).toBe('\\N\n');
  });

  it('scans deeply nested values without recursion', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(rowToCopyLine(`{"d":${deep}}`, columns('d'), 1, 'T')).toBe(`${deep}\n`);
  });

  it('throws on keys the table lacks and on text that is not a flat object', () => {
    expect(() => rowToCopyLine('{"zz":1}', columns('a'), 1, 'T')).toThrow(/unknown column "zz"/);
    expect(() => rowToCopyLine('{"a":"unterminated}', columns('a'), 1, 'T')).toThrow(/ends inside a string/);
  });

  it('refuses a backslash outside a string, which COPY would read as an escape of the next value', () => {
    expect(() => rowToCopyLine('{"a":1\\,"b":2}', columns('a', 'b'), 2, 'T')).toThrow(/Table "T": a value is not JSON/);
    expect(() => rowToCopyLine('{"a":tru\\e}', columns('a'), 1, 'T', new Set([0]))).toThrow(/a value is not JSON/);
  });
});

describe('rowToCopyLine into json/jsonb columns', () => {
  const index = new Map([['id', 0], ['meta', 1]]);
  const json = new Set([1]);
  it('passes every JSON value as its JSON text: strings stay quoted, booleans stay true/false', () => {
    expect(rowToCopyLine('{"id":"a","meta":"a plain string"}', index, 2, 'T', json)).toBe('a\t"a plain string"\n');
    expect(rowToCopyLine('{"id":"a","meta":true}', index, 2, 'T', json)).toBe('a\ttrue\n');
    expect(rowToCopyLine('{"id":"a","meta":false}', index, 2, 'T', json)).toBe('a\tfalse\n');
    expect(rowToCopyLine('{"id":"a","meta":12.50}', index, 2, 'T', json)).toBe('a\t12.50\n');
    // A string holding JSON text is a string, not the object it spells.
    expect(rowToCopyLine('{"id":"a","meta":"{}"}', index, 2, 'T', json)).toBe('a\t"{}"\n');
    expect(rowToCopyLine('{"id":"a","meta":"tab\\there \\\\ slash"}', index, 2, 'T', json)).toBe('a\t"tab\\\\there \\\\\\\\ slash"\n');
    expect(rowToCopyLine('{"id":"a","meta":null}', index, 2, 'T', json)).toBe('a\t\\N\n');
    expect(rowToCopyLine('{"id":"a","meta":{"x":[true]}}', index, 2, 'T', json)).toBe('a\t{"x":[true]}\n');
  });
});

describe('rowToCopyLine on rows without escapes (its fast path)', () => {
  const index = columns('id', 'amount', 'active', 'meta', 'note', 'tags', 'closed');
  const jsonColumns = new Set([3, 5]);
  // Each row twice: keys in column order (the fast path) and out of order (the general path); same line.
  const rows: Array<[string, string]> = [
    [
      '{"id":"c1","amount":12.50,"active":true,"meta":{"a":"x}y]z,w:v","b":[1,{"c":null}]},"note":"Zoë 🏺 {not} [json], a:b","tags":["t1","t2"],"closed":null}',
      '{"closed":null,"tags":["t1","t2"],"note":"Zoë 🏺 {not} [json], a:b","meta":{"a":"x}y]z,w:v","b":[1,{"c":null}]},"active":true,"amount":12.50,"id":"c1"}',
    ],
    [
      '{"id":"c2","amount":-1e-7,"active":false,"meta":true,"note":"","tags":"a string","closed":"2024-12-16T11:41:48.768"}',
      '{"meta":true,"id":"c2","amount":-1e-7,"active":false,"note":"","closed":"2024-12-16T11:41:48.768","tags":"a string"}',
    ],
    [
      '{"id":"c3","amount":123456789012345678901234567890.000001,"active":null,"meta":12.5,"note":null,"tags":false,"closed":null}',
      '{"amount":123456789012345678901234567890.000001,"id":"c3","active":null,"meta":12.5,"note":null,"tags":false,"closed":null}',
    ],
    ['{ "id" : "c4" , "meta" : null , "closed" : "x" }', '{ "closed" : "x" , "meta" : null , "id" : "c4" }'],
    ['{"id":"c5","tags":[]}', '{"tags":[],"id":"c5"}'],
  ];
  it.each(rows)('%s', (ordered, shuffled) => {
    const line = rowToCopyLine(ordered, index, 7, 'T', jsonColumns);
    expect(line.split('\t')).toHaveLength(7);
    expect(line).toBe(rowToCopyLine(shuffled, index, 7, 'T', jsonColumns));
  });

  it('gives way to the general path for a raw tab or newline, a duplicate key or an unknown column', () => {
    expect(rowToCopyLine('{"id":"a\tb"}', index, 7, 'T')).toBe('a\\tb\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n');
    expect(rowToCopyLine('{"id":"a\nb"}', index, 7, 'T')).toBe('a\\nb\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n');
    expect(rowToCopyLine('{"id":"a","id":"b"}', index, 7, 'T')).toBe('b\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n');
    expect(() => rowToCopyLine('{"id":"a","zz":1}', index, 7, 'T')).toThrow(/unknown column "zz"/);
  });
});
