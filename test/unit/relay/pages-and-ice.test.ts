// The relay serves the built pages at / and /leaderboard under the same security headers as
// the API, and hands volunteers STUN and short-lived TURN credentials from its config.
import { createHmac } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { iceServersFor } from '../../../relay/ice-servers.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

let relay: RelayHandle;

beforeAll(async () => {
  const webDir = await mkdtemp(join(tmpdir(), 'potluck-web-'));
  await mkdir(join(webDir, 'assets'));
  await writeFile(join(webDir, 'index.html'), '<!doctype html><title>donate</title>');
  await writeFile(join(webDir, 'leaderboard.html'), '<!doctype html><title>leaderboard</title>');
  await writeFile(join(webDir, 'assets', 'app.js'), 'export {};');
  relay = await startTestRelay(await smallDataset(), { webDir });
});
afterAll(async () => {
  await relay?.close();
});

it('serves the volunteer page, the leaderboard and their assets with a strict CSP', async () => {
  for (const [path, text] of [
    ['/', 'donate'],
    ['/leaderboard', 'leaderboard'],
    ['/assets/app.js', 'export'],
  ] as const) {
    const response = await relay.app.request(path);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain(text);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
  }
  expect((await relay.app.request('/../../etc/passwd')).status).toBe(404);
});

it('makes TURN credentials that expire, in coturn REST API form', () => {
  const now = Date.UTC(2026, 11, 1, 12);
  const servers = iceServersFor(
    {
      stunUrls: ['stun:stun.example.org:3478'],
      turnUrls: ['turn:turn.example.org:3478'],
      turnSecret: 's3cret',
      turnTtlSeconds: 600,
    },
    now,
  );
  expect(servers[0]).toEqual({ urls: ['stun:stun.example.org:3478'] });
  const turn = servers[1];
  expect(turn?.username).toBe(`${now / 1000 + 600}:potluck`);
  expect(turn?.credential).toBe(
    createHmac('sha1', 's3cret')
      .update(turn?.username ?? '')
      .digest('base64'),
  );
  // No secret, no TURN: a TURN server without credentials would only fail.
  expect(
    iceServersFor({ stunUrls: [], turnUrls: ['turn:t'], turnSecret: null, turnTtlSeconds: 600 }, now),
  ).toEqual([]);
});
