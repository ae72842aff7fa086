import jwt from 'jsonwebtoken';
import { DownloadTokenService, TokenService } from './token.service';

// Not ASCII: the key is the secret's UTF-8 bytes, as jsonwebtoken makes it from a string.
const SECRET = 'token-service-test-secret-0123456789abcdef-ünïcödé';

describe('TokenService', () => {
  it('verifies what it signs, and what an instance holding the secret as a string signed (a rolling upgrade), but nothing signed with another secret', () => {
    const tokens = new TokenService(SECRET, 60);
    expect(tokens.verify(tokens.sign({ userId: 'u1', jwtId: 'j1' }).token)).toEqual({ userId: 'u1', jwtId: 'j1' });
    const byString = jwt.sign({}, SECRET, { algorithm: 'HS256', issuer: 'kiln', subject: 'u2', jwtid: 'j2', expiresIn: 60 });
    expect(tokens.verify(byString)).toEqual({ userId: 'u2', jwtId: 'j2' });
    // And the other way round: its tokens are the HMAC of the secret's UTF-8 bytes, as before.
    expect(jwt.verify(tokens.sign({ userId: 'u3', jwtId: 'j3' }).token, SECRET, { algorithms: ['HS256'] })).toMatchObject({ sub: 'u3', jti: 'j3' });
    const foreign = new TokenService(`${SECRET}-other`, 60).sign({ userId: 'u1', jwtId: 'j1' }).token;
    expect(() => tokens.verify(foreign)).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) }));
  });

  it('refuses an unsigned token, one with another algorithm, and a download link as a session token', () => {
    const tokens = new TokenService(SECRET, 60);
    const unsigned = jwt.sign({}, '', { algorithm: 'none', issuer: 'kiln', subject: 'u1', jwtid: 'j1' });
    const hs512 = jwt.sign({}, SECRET, { algorithm: 'HS512', issuer: 'kiln', subject: 'u1', jwtid: 'j1' });
    const link = new DownloadTokenService(SECRET, 60).sign('backup-1').token;
    for (const token of [unsigned, hs512, link]) expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ reason: 'TOKEN_INVALID' }) }));
  });
});

describe('DownloadTokenService', () => {
  it('allows a link for its backup only, and one an instance holding the secret as a string signed', () => {
    const links = new DownloadTokenService(SECRET, 60);
    const token = links.sign('backup-1').token;
    expect([links.allows(token, 'backup-1'), links.allows(token, 'backup-2')]).toEqual([true, false]);
    const byString = jwt.sign({}, SECRET, { algorithm: 'HS256', issuer: 'kiln', audience: 'kiln-download', subject: 'backup-3', expiresIn: 60 });
    expect(links.allows(byString, 'backup-3')).toBe(true);
    expect(links.allows(new TokenService(SECRET, 60).sign({ userId: 'backup-1', jwtId: 'j' }).token, 'backup-1')).toBe(false);
  });
});
