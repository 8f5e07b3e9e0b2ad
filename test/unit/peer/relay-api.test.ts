// The volunteer's HTTP client for the relay: a GET whose request fails (a reset connection) is
// tried again a few times before the error stands, and an HTTP error status is not retried. Given
// the relay in use rather than one address, every request goes where the swarm connection went.
import { expect, it } from 'vitest';
import { FRAME_CLAIM_HEADER } from '../../../protocol/run-api.ts';
import { runIdentity } from '../../../protocol/run-config.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { RelayApi } from '../../../web/src/peer/relay-api.ts';
import { RelayRotation } from '../../../web/src/peer/relay-rotation.ts';

const resolved = resolveRunConfig({});
if (!resolved.ok) throw new Error(resolved.message);
const config = resolved.config;

/** A fetch that fails its first `failures` requests, then answers `status` with the run. */
function flaky(failures: number, status = 200) {
  let calls = 0;
  const fetchImpl = (async () => {
    calls++;
    if (calls <= failures) throw new TypeError('fetch failed');
    return new Response(JSON.stringify({ config }), { status });
  }) as typeof fetch;
  return { fetchImpl, calls: () => calls };
}

it('tries a failed request again, and gives up after four retries', async () => {
  const { configHash } = await runIdentity(config);
  const twice = flaky(2);
  expect(await new RelayApi('http://relay', 'run', twice.fetchImpl).runConfig(configHash)).toEqual(config);
  expect(twice.calls()).toBe(3);
  const always = flaky(10);
  await expect(new RelayApi('http://relay', 'run', always.fetchImpl).runConfig(configHash)).rejects.toThrow(
    'fetch failed',
  );
  expect(always.calls()).toBe(5);
}, 20_000);

it('does not retry an HTTP error: the relay answered', async () => {
  const refused = flaky(0, 404);
  await expect(new RelayApi('http://relay', 'run', refused.fetchImpl).runConfig('x')).rejects.toThrow(
    'HTTP 404',
  );
  expect(refused.calls()).toBe(1);
});

it('tries a 503 again (a relay of a cluster between leaders), then lets it stand', async () => {
  const unavailable = flaky(0, 503);
  await expect(new RelayApi('http://relay', 'run', unavailable.fetchImpl).runConfig('x')).rejects.toThrow(
    'HTTP 503',
  );
  expect(unavailable.calls()).toBe(5);
}, 20_000);

it('sends an upload again when the relay answers 503 (busy, or between leaders), after its Retry-After; not when the request failed in flight', async () => {
  const sent: { method: string; body: number; at: number }[] = [];
  // Busier than four retries would cover: a relay that says when to come back is asked again.
  const answers = [503, 503, 503, 503, 503, 503, 204];
  const busyTwice = (async (_input: RequestInfo | URL, init?: RequestInit) => {
    sent.push({
      method: init?.method ?? 'GET',
      body: (init?.body as Uint8Array | undefined)?.byteLength ?? 0,
      at: Date.now(),
    });
    const status = answers.shift() ?? 204;
    return new Response(status === 204 ? null : '{}', {
      status,
      headers: status === 503 ? { 'retry-after': '1' } : {},
    });
  }) as typeof fetch;
  const api = new RelayApi('http://relay', 'run', busyTwice);
  await api.uploadFrame(3, 'peer', new Uint8Array(10), 'claim');
  expect(sent.map((s) => `${s.method} ${s.body}`)).toEqual(Array(7).fill('PUT 10'));
  // The first wait is the relay's second, not the client's quarter second.
  expect((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);

  // A request that failed in flight may have landed: the upload does not go twice.
  const failing = flaky(1, 204);
  await expect(
    new RelayApi('http://relay', 'run', failing.fetchImpl).uploadFrame(3, 'peer', new Uint8Array(1), 'c'),
  ).rejects.toThrow('fetch failed');
  expect(failing.calls()).toBe(1);
}, 20_000);

it("reads the relay's leaderboard of its own run, and refuses another run's", async () => {
  const key = 'A'.repeat(43);
  const rows = [
    {
      publicKey: key,
      name: 'ada',
      verifiedCredits: 1.5,
      verifiedFlops: '1500',
      provisionalCredits: 0,
      provisionalFlops: '0',
      tokens: 10,
      gpuMs: 5,
      lastSeen: null,
      rounds: 1,
      banned: false,
    },
  ];
  const answer = (runId: string) =>
    (async (input: RequestInfo | URL) => {
      expect(String(input)).toBe('http://relay/api/leaderboard');
      return new Response(JSON.stringify({ runId, rows }));
    }) as typeof fetch;
  expect(await new RelayApi('http://relay', 'run', answer('run')).leaderboard()).toEqual(rows);
  await expect(new RelayApi('http://relay', 'run', answer('other')).leaderboard()).rejects.toThrow(
    expect.objectContaining({ code: 'ERR_RELAY_DATA' }),
  );
});

it('follows the relay in use: each request, each retry, goes to the current relay', async () => {
  const relays = new RelayRotation('http://relay-a.test');
  relays.learn(['http://relay-a.test', 'http://relay-b.test:8443']);
  const asked: { url: string; method: string; claim: string | null }[] = [];
  let failNext = false;
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    asked.push({
      url: String(input),
      method: init?.method ?? 'GET',
      claim: new Headers(init?.headers).get(FRAME_CLAIM_HEADER),
    });
    if (failNext) {
      // Relay A dies with this request in flight; the link has moved on to B before the retry.
      failNext = false;
      relays.advance();
      throw new TypeError('fetch failed');
    }
    return new Response(new Uint8Array([1, 2, 3]));
  }) as typeof fetch;
  const api = new RelayApi(() => relays.current, 'run', fetchImpl);
  await api.uploadFrame(3, 'peer/1', new Uint8Array([9]), 'claim');
  failNext = true;
  expect(await api.aggregatePiece(3, 0, 2)).toEqual(new Uint8Array([1, 2, 3]));
  await api.uploadFrame(4, 'peer/1', new Uint8Array([9]), 'claim');
  await api.countedFrame(4, 'p');
  await api.uploadLocalState(4, 'p', new Uint8Array([7]));
  expect(asked).toEqual([
    { url: 'http://relay-a.test/api/runs/run/rounds/3/frames/peer%2F1', method: 'PUT', claim: 'claim' },
    { url: 'http://relay-a.test/api/runs/run/rounds/3/aggregate?piece=0&of=2', method: 'GET', claim: null },
    {
      url: 'http://relay-b.test:8443/api/runs/run/rounds/3/aggregate?piece=0&of=2',
      method: 'GET',
      claim: null,
    },
    { url: 'http://relay-b.test:8443/api/runs/run/rounds/4/frames/peer%2F1', method: 'PUT', claim: 'claim' },
    { url: 'http://relay-b.test:8443/api/runs/run/rounds/4/frames/p', method: 'GET', claim: null },
    { url: 'http://relay-b.test:8443/api/runs/run/rounds/4/local-state/p', method: 'PUT', claim: null },
  ]);
}, 15_000);

it('stays on one relay when given one address', async () => {
  const asked: string[] = [];
  const fetchImpl = (async (input: RequestInfo | URL) => {
    asked.push(String(input));
    return new Response(new Uint8Array([1]));
  }) as typeof fetch;
  const api = new RelayApi('http://relay', 'run', fetchImpl);
  await api.statePiece('r', 0).catch(() => undefined); // not a state piece: refused, but asked of the relay
  await api.countedFrame(1, 'p');
  expect(asked).toEqual([
    'http://relay/api/runs/run/state/r/pieces/0',
    'http://relay/api/runs/run/rounds/1/frames/p',
  ]);
});

it('tells a frame the relay decided its round without (late) from any other refusal', async () => {
  const answering = (status: number, code: string) =>
    (async () =>
      new Response(JSON.stringify({ error: { code, message: 'm' } }), { status })) as unknown as typeof fetch;
  await expect(
    new RelayApi('http://relay', 'run', answering(409, 'ERR_FRAME_LATE')).uploadFrame(
      3,
      'p',
      new Uint8Array(1),
      'c',
    ),
  ).rejects.toMatchObject({
    code: 'ERR_FRAME_LATE',
    message: 'round 3 was decided before this frame arrived',
  });
  await expect(
    new RelayApi('http://relay', 'run', answering(403, 'ERR_NOT_A_MEMBER')).uploadFrame(
      3,
      'p',
      new Uint8Array(1),
      'c',
    ),
  ).rejects.toMatchObject({ code: 'ERR_RELAY_HTTP' });
  // A 409 whose body is not the relay's error shape is no verdict on the frame.
  const garbled = (async () => new Response('ERR_FRAME_LATE', { status: 409 })) as unknown as typeof fetch;
  await expect(
    new RelayApi('http://relay', 'run', garbled).uploadFrame(3, 'p', new Uint8Array(1), 'c'),
  ).rejects.toMatchObject({ code: 'ERR_RELAY_HTTP' });
});
