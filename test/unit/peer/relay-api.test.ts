// The volunteer's HTTP client for the relay: a GET whose request fails (a reset connection) is
// tried again a few times before the error stands, and an HTTP error status is not retried.
import { expect, it } from 'vitest';
import { runIdentity } from '../../../protocol/run-config.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { RelayApi } from '../../../web/src/peer/relay-api.ts';

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

it('tries a failed request again, and gives up after three retries', async () => {
  const { configHash } = await runIdentity(config);
  const twice = flaky(2);
  expect(await new RelayApi('http://relay', 'run', twice.fetchImpl).runConfig(configHash)).toEqual(config);
  expect(twice.calls()).toBe(3);
  const always = flaky(10);
  await expect(new RelayApi('http://relay', 'run', always.fetchImpl).runConfig(configHash)).rejects.toThrow(
    'fetch failed',
  );
  expect(always.calls()).toBe(4);
}, 15_000);

it('does not retry an HTTP error: the relay answered', async () => {
  const refused = flaky(0, 503);
  await expect(new RelayApi('http://relay', 'run', refused.fetchImpl).runConfig('x')).rejects.toThrow(
    'HTTP 503',
  );
  expect(refused.calls()).toBe(1);
});

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
