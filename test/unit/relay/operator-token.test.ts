// The operator token: made once in the state folder (mode 0600) and read back the same, a file
// that holds anything else refused by code, and the routes it guards refuse every request
// without it, with another scheme, or with another token, in one readable 401.
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { expect, it } from 'vitest';
import {
  loadOrCreateOperatorToken,
  OPERATOR_TOKEN_FILE,
  operatorAuth,
  readOperatorToken,
} from '../../../relay/http/operator-token.ts';

it('is made once, readable by the relay’s user only, and read back the same', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'potluck-token-')), OPERATOR_TOKEN_FILE);
  expect(await readOperatorToken(file)).toBeNull();
  // Two relays starting on one folder at once agree on one token.
  const [a, b] = await Promise.all([loadOrCreateOperatorToken(file), loadOrCreateOperatorToken(file)]);
  expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(b).toBe(a);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect(await loadOrCreateOperatorToken(file)).toBe(a);
  const other = join(await mkdtemp(join(tmpdir(), 'potluck-token-')), OPERATOR_TOKEN_FILE);
  expect(await loadOrCreateOperatorToken(other)).not.toBe(a);
});

it('refuses a file that holds no token', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'potluck-token-'));
  for (const text of ['', 'short', `${'a'.repeat(43)}!`, 'a'.repeat(44), '{"token": 1}']) {
    const file = join(dir, OPERATOR_TOKEN_FILE);
    await writeFile(file, text);
    await expect(readOperatorToken(file)).rejects.toMatchObject({ code: 'ERR_OPERATOR_TOKEN' });
    await expect(loadOrCreateOperatorToken(file)).rejects.toMatchObject({ code: 'ERR_OPERATOR_TOKEN' });
  }
});

it('lets through only the token, as a bearer', async () => {
  const token = await loadOrCreateOperatorToken(join(await mkdtemp(join(tmpdir(), 'potluck-token-')), 'f'));
  const appFor = (guard: string | null) => {
    const app = new Hono();
    app.post('/act', operatorAuth(guard), (c) => c.text('done'));
    app.onError((error, c) => c.text(error.message, error instanceof HTTPException ? error.status : 500));
    return app;
  };
  const app = appFor(token);
  const post = (authorization?: string) =>
    app.request('/act', { method: 'POST', headers: authorization === undefined ? {} : { authorization } });
  expect((await post(`Bearer ${token}`)).status).toBe(200);
  expect(await (await post(`Bearer ${token}`)).text()).toBe('done');
  const near = `${token.slice(0, -1)}${token.endsWith('x') ? 'y' : 'x'}`;
  for (const wrong of [
    undefined,
    '',
    'Bearer',
    `Bearer ${near}`,
    `Basic ${token}`,
    token,
    `Bearer ${token} x`,
  ]) {
    const answer = await post(wrong);
    expect(answer.status).toBe(401);
    expect(await answer.text()).toBe('an operator action needs the relay operator token');
  }
  // A relay without a token lets nobody act.
  const none = await appFor(null).request('/act', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  expect(none.status).toBe(401);
});
