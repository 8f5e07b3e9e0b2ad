// A tab served by one relay of a run fails over to another, whose /api/* is then another origin's
// (relay/http/api-cors.ts): any origin may read it, preflights are answered with the headers the
// volunteer sends (the frame claim among them), the checkpoint's hash header is exposed, and an
// error still carries the CORS headers, so the page reads the status instead of a CORS failure.
// The page's own CSP (relay/http/security-headers.ts) lets it connect to the run's other relays.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { expect, it } from 'vitest';
import { CHECKPOINT_HASH_HEADER, FRAME_CLAIM_HEADER } from '../../../protocol/run-api.ts';
import { relayApiCors } from '../../../relay/http/api-cors.ts';
import { relaySecurityHeaders } from '../../../relay/http/security-headers.ts';

const OTHER_PAGE = 'https://a.relay.test';

/** The order the relay's app mounts them in: security headers, then CORS on /api/*, then routes. */
function app(relayUrls?: () => readonly string[]): Hono {
  const hono = new Hono();
  hono.use('*', relaySecurityHeaders(relayUrls));
  hono.use('/api/*', relayApiCors());
  hono.put('/api/runs/:id/rounds/:round/frames/:peer', (c) => c.body(null, 204));
  hono.get('/api/runs/:id/checkpoint', (c) => {
    c.header(CHECKPOINT_HASH_HEADER, 'h'.repeat(64));
    return c.body(new Uint8Array([1]));
  });
  hono.get('/api/full', () => {
    throw new HTTPException(413, { message: 'too large' });
  });
  hono.onError((error, c) => c.text(error.message, error instanceof HTTPException ? error.status : 500));
  return hono;
}

it('answers a preflight for a frame upload from another relay’s page', async () => {
  const response = await app().request('/api/runs/r/rounds/1/frames/p', {
    method: 'OPTIONS',
    headers: {
      origin: OTHER_PAGE,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': `content-type,${FRAME_CLAIM_HEADER}`,
    },
  });
  expect(response.status).toBe(204);
  expect(response.headers.get('access-control-allow-origin')).toBe('*');
  expect(response.headers.get('access-control-allow-methods')).toContain('PUT');
  const allowed = (response.headers.get('access-control-allow-headers') ?? '').split(',');
  expect(allowed).toEqual(expect.arrayContaining(['content-type', 'range', FRAME_CLAIM_HEADER]));
  expect(response.headers.get('access-control-allow-credentials')).toBeNull();
});

it('lets another origin read answers, their checkpoint hash and their errors', async () => {
  const headers = { origin: OTHER_PAGE };
  const checkpoint = await app().request('/api/runs/r/checkpoint', { headers });
  expect(checkpoint.headers.get('access-control-allow-origin')).toBe('*');
  expect(checkpoint.headers.get('access-control-expose-headers')).toContain(CHECKPOINT_HASH_HEADER);
  const upload = await app().request('/api/runs/r/rounds/1/frames/p', { method: 'PUT', headers, body: 'x' });
  expect(upload.status).toBe(204);
  expect(upload.headers.get('access-control-allow-origin')).toBe('*');
  const refused = await app().request('/api/full', { headers });
  expect(refused.status).toBe(413);
  expect(refused.headers.get('access-control-allow-origin')).toBe('*');
  // Pages stay same-origin only.
  expect((await app().request('/', { headers })).headers.get('access-control-allow-origin')).toBeNull();
});

it("lets the page connect to the run's other relays, and to nothing a welcome could not name", async () => {
  const csp = async (relayUrls?: () => readonly string[]) =>
    (await app(relayUrls).request('/')).headers.get('content-security-policy') ?? '';
  expect(await csp()).toMatch(/connect-src 'self' ?;/);
  const listed = await csp(() => ['https://b.relay.test:8443', 'https://c.relay.test; script-src *']);
  expect(listed).toMatch(/connect-src 'self' https:\/\/b\.relay\.test:8443 wss:\/\/b\.relay\.test:8443;/);
  expect(listed).not.toContain('script-src *');
});
