/**
 * The anonymous side of the LOGIN FLOOD lines, in its own process so that the admin's timed
 * queries are not queued behind the flood's own responses: `LOOPS` loops of wrong-password
 * logins until told to stop, then the counts on stdout.
 */
const [url, loops, mode] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }';
let stop = false;
let [logins, limited, n] = [0, 0, 0];
process.on('message', () => (stop = true));

const address = () => (mode === 'many' ? `10.${(++n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` : '198.51.100.1');

async function loop(i: number): Promise<void> {
  while (!stop) {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address() },
      // 'many': a new address and a new email each login, so no limit applies and every login is a
      // password check (the worst case); 'one': one email a loop, from one address.
      body: JSON.stringify({ query: LOGIN, variables: { e: mode === 'many' ? `nobody-${n}@kiln.local` : `nobody-one-${i}@kiln.local`, p: 'guess' } }),
    });
    const body = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
    logins++;
    if (body.errors?.[0]?.extensions?.code === 'TOO_MANY_REQUESTS') limited++;
  }
}

void Promise.all(Array.from({ length: loops }, (_, i) => loop(i))).then(() => {
  process.send!({ logins, limited });
  process.disconnect();
});
process.send!({ ready: true });
