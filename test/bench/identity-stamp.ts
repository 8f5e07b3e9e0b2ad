// `npm run bench:identity [-- --bits N --stamps K]`: what an identity stamp costs to mint at
// the run's default difficulty (protocol/identity-stamp.ts), in Node (the headless volunteer)
// and in a Web Worker of headless Chromium (the page), and what checking one costs the relay.
// Each stamp is for a fresh random key, so the times follow the geometric distribution a
// volunteer sees: mean 2^bits hashes. Prints figures; it is not a test.
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { chromium } from 'playwright';
import { checkStamp } from '../../protocol/identity-stamp.ts';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';
import { mintStamp } from '../../web/src/peer/stamp-mint.ts';

const { values } = parseArgs({
  options: { bits: { type: 'string' }, stamps: { type: 'string' } },
});
const bits = Number(values.bits ?? DEFAULT_RUN.identity.stampBits);
const stamps = Number(values.stamps ?? 8);
const RUN = 'brown-gpt-0123abcd';
const say = (line: string) => process.stdout.write(`${line}\n`);

const randomKey = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');

function summary(where: string, runs: { ms: number; tried: number }[]): void {
  const seconds = runs.map((r) => r.ms / 1000).sort((a, b) => a - b);
  const mean = seconds.reduce((a, b) => a + b, 0) / seconds.length;
  const rate = runs.reduce((a, r) => a + r.tried, 0) / runs.reduce((a, r) => a + r.ms / 1000, 0);
  const expected = 2 ** bits / rate;
  say(
    `${where.padEnd(18)} ${(rate / 1e6).toFixed(2)} M hashes/s; ${runs.length} stamps: mean ${mean.toFixed(2)} s, ` +
      `median ${(seconds[Math.floor(seconds.length / 2)] ?? 0).toFixed(2)} s, max ${(seconds.at(-1) ?? 0).toFixed(2)} s; ` +
      `expected (2^${bits} hashes) ${expected.toFixed(2)} s`,
  );
}

say(`identity stamps at ${bits} bits (${(2 ** bits / 1e6).toFixed(1)} M hashes expected per stamp)`);

// Node: the headless volunteer mints on its event loop, a slice at a time.
const node: { ms: number; tried: number }[] = [];
for (let i = 0; i < stamps; i++) {
  const key = randomKey();
  const started = performance.now();
  const stamp = await mintStamp(RUN, key, bits);
  node.push({ ms: performance.now() - started, tried: Number(stamp) + 1 });
}
summary('node', node);

// Chromium: the page mints in a Web Worker (web/src/worker/volunteer-worker.ts does the same).
const worker = await build({
  stdin: {
    contents: `import { mintStamp } from './web/src/peer/stamp-mint.ts';
      onmessage = async ({ data }) => {
        const started = performance.now();
        const stamp = await mintStamp(data.runId, data.key, data.bits);
        postMessage({ ms: performance.now() - started, tried: Number(stamp) + 1 });
      };`,
    resolveDir: new URL('../../', import.meta.url).pathname,
    loader: 'ts',
  },
  bundle: true,
  write: false,
  format: 'iife',
});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' });
try {
  const page = await browser.newPage();
  const source = worker.outputFiles[0]?.text ?? '';
  const keys = Array.from({ length: stamps }, randomKey);
  const runs = await page.evaluate(
    async ({ source, keys, runId, bits }) => {
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const w = new Worker(url);
      const out: { ms: number; tried: number }[] = [];
      for (const key of keys)
        out.push(
          await new Promise((resolve) => {
            w.onmessage = (event) => resolve(event.data);
            w.postMessage({ runId, key, bits });
          }),
        );
      w.terminate();
      return out;
    },
    { source, keys, runId: RUN, bits },
  );
  summary('chromium worker', runs);
} finally {
  await browser.close();
}

// The relay: one check per hello.
const key = randomKey();
const started = performance.now();
for (let i = 0; i < 10_000; i++) checkStamp(RUN, key, String(i), bits);
say(
  `${'relay check'.padEnd(18)} ${(((performance.now() - started) / 10_000) * 1000).toFixed(1)} µs per stamp`,
);
